namespace ContinualLearning.Replay;

/// <summary>
/// One labelled sample as a trainer sees it: the features the head consumes (raw features or a
/// backbone embedding) and its label. <see cref="Id"/> is the sample id the store issued, so a
/// training run can report which fresh samples it used.
/// </summary>
public sealed record TrainingSample(long Id, float[] Features, SampleLabel Label);
