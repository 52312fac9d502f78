namespace MissionHub.Client;

/// <summary>Where a <see cref="WorkerClient"/> stands.</summary>
public enum WorkerState
{
    /// <summary><see cref="WorkerClient.RunAsync"/> has not been called.</summary>
    NotStarted,

    /// <summary>Opening the socket and registering.</summary>
    Connecting,

    /// <summary>Registered with the hub: jobs can arrive.</summary>
    Registered,

    /// <summary>The connection failed or dropped; waiting out the backoff before the next attempt.</summary>
    WaitingToReconnect,

    /// <summary>Cancellation was requested: handlers are being cancelled and the socket closed.</summary>
    Stopping,

    /// <summary><see cref="WorkerClient.RunAsync"/> has returned.</summary>
    Stopped,
}

/// <summary>A change of <see cref="WorkerClient.State"/>.</summary>
public sealed class WorkerStateChangedEventArgs(WorkerState oldState, WorkerState newState) : EventArgs
{
    /// <summary>The state before.</summary>
    public WorkerState OldState { get; } = oldState;

    /// <summary>The state now.</summary>
    public WorkerState NewState { get; } = newState;
}

/// <summary>An <c>error</c> frame from the hub: it refused something this worker sent.</summary>
public sealed class WorkerErrorEventArgs(string code, string message) : EventArgs
{
    /// <summary>e.g. <c>job_not_held</c>, <c>invalid_field</c>.</summary>
    public string Code { get; } = code;

    /// <summary>The hub's message.</summary>
    public string Message { get; } = message;
}

/// <summary>A connection attempt failed or a connection dropped; the next attempt comes after <see cref="RetryIn"/>.</summary>
public sealed class WorkerDisconnectedEventArgs(string reason, Exception? exception, TimeSpan retryIn) : EventArgs
{
    /// <summary>Why the connection ended.</summary>
    public string Reason { get; } = reason;

    /// <summary>The error that ended it, if any.</summary>
    public Exception? Exception { get; } = exception;

    /// <summary>How long until the next connection attempt.</summary>
    public TimeSpan RetryIn { get; } = retryIn;
}

/// <summary>The hub refused to register this worker (a bad id or capabilities): retrying would not help.</summary>
public sealed class WorkerRegistrationException : Exception
{
    /// <summary>The hub refused the registration with <paramref name="code"/> and <paramref name="message"/>.</summary>
    public WorkerRegistrationException(string code, string message)
        : base($"the hub refused to register the worker ({code}): {message}")
    {
        Code = code;
    }

    /// <summary>A refused registration with no details.</summary>
    public WorkerRegistrationException()
        : this("unknown", "no reason given")
    {
    }

    /// <summary>A refused registration described by <paramref name="message"/>.</summary>
    public WorkerRegistrationException(string message)
        : this("unknown", message)
    {
    }

    /// <summary>A refused registration described by <paramref name="message"/>, caused by <paramref name="innerException"/>.</summary>
    public WorkerRegistrationException(string message, Exception innerException)
        : base(message, innerException)
    {
        Code = "unknown";
    }

    /// <summary>The hub's error code (e.g. <c>already_registered</c>).</summary>
    public string Code { get; } = "unknown";
}
