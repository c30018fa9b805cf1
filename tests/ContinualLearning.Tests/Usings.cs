namespace ContinualLearning.Tests;
