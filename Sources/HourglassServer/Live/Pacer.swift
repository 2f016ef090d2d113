import Foundation

/// Runs an action for a key (a meeting) at most once per `interval`: requests made while one is
/// pending join it, and the action reads the latest state when it runs. Runs for one key never
/// overlap, so an older state is never written after a newer one. For work where only the
/// latest state matters and whose cost grows with the crowd: caret moves fan out to every
/// connection of a meeting, presence lists go to the database.
actor Pacer {
    let interval: Duration
    private var pending: Set<UUID> = []
    /// The latest run per key, which the next one waits for; removed when it is the last.
    private var runs: [UUID: (id: UUID, task: Task<Void, Never>)] = [:]

    init(interval: Duration) {
        self.interval = interval
    }

    func request(_ key: UUID, _ action: @escaping @Sendable () async -> Void) {
        guard pending.insert(key).inserted else { return }
        let previous = runs[key]?.task
        let id = UUID()
        let task = Task {
            try? await Task.sleep(for: interval)
            await previous?.value
            // Requests from now on schedule another run, so nothing asked for during `action` is missed.
            pending.remove(key)
            await action()
            if runs[key]?.id == id { runs[key] = nil }
        }
        runs[key] = (id, task)
    }
}
