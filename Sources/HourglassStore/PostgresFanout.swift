import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// Listens on the board channel with one dedicated connection and reports every committed change
/// made by any instance. After a (re)connect it calls `onConnect` first, so the server can catch up
/// from the store on whatever it may have missed while the connection was down. Payloads carry only
/// ids and a sequence number; the board itself is always read from the store, so no payload can
/// exceed NOTIFY's size limit.
public struct PostgresFanout: Service {
    public typealias Change = (spaceID: UUID, meetingID: UUID, seq: Int)

    let target: PostgresTarget
    let logger: Logger
    let onConnect: @Sendable () async -> Void
    let onChange: @Sendable (Change) async -> Void

    public init(url: String, logger: Logger, onConnect: @escaping @Sendable () async -> Void,
                onChange: @escaping @Sendable (Change) async -> Void) throws {
        target = try PostgresTarget(url: url)
        self.logger = logger
        self.onConnect = onConnect
        self.onChange = onChange
    }

    /// "SPACE MEETING SEQ" → the change, or nil for anything else.
    static func parse(_ payload: String) -> Change? {
        let parts = payload.split(separator: " ")
        guard parts.count == 3, let space = UUID(uuidString: String(parts[0])), let meeting = UUID(uuidString: String(parts[1])),
              let seq = Int(parts[2]) else { return nil }
        return (space, meeting, seq)
    }

    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            var attempt = 0
            while !Task.isCancelled {
                do {
                    let connection = try await target.connect(logger: logger)
                    do {
                        try await connection.listen(on: PostgresStore.boardChannel) { notifications in
                            attempt = 0
                            logger.info("Listening for board changes from other instances")
                            await onConnect()
                            for try await notification in notifications {
                                if let change = Self.parse(notification.payload) { await onChange(change) }
                            }
                        }
                    } catch {
                        try? await connection.close()
                        throw error
                    }
                    try? await connection.close()
                } catch is CancellationError {
                    return
                } catch {
                    if Task.isCancelled { return }
                    let delay = min(10.0, 0.25 * pow(2, Double(attempt)))
                    attempt += 1
                    logger.warning("Board listener lost its connection; retrying", metadata: ["error": "\(error)", "in": "\(delay)s"])
                    try? await Task.sleep(for: .seconds(delay))
                }
            }
        }
    }
}
