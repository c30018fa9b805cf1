namespace ContinualLearning.Storage;

/// <summary>
/// Life of a sample row. A sample admitted to replay is not a state here: its training features are copied to the
/// replay table and the row itself is deleted like every used sample.
/// </summary>
internal enum SampleState
{
    /// <summary>Prediction logged, waiting for its label.</summary>
    Pending = 0,
    /// <summary>Labelled and not yet used for training.</summary>
    Fresh = 1,
    /// <summary>Handed to a training run by TakeFreshBatch; deleted by MarkUsed, returned to Fresh by Release or a restart.</summary>
    Taken = 2,
}
