namespace ContinualLearning.Aggregator;
// This assembly's public surface starts here; see docs/architecture.md.
