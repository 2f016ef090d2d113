import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// Listens on the events channel with one dedicated connection and reports every committed board
/// change and presence change made by any instance. After a (re)connect it calls `onConnect` first, so the server can catch up
/// from the store on whatever it may have missed while the connection was down. Payloads carry only
/// ids and a sequence number; the board itself is always read from the store, so no payload can
/// exceed NOTIFY's size limit.
public struct PostgresFanout: Service {
    /// What another instance (or this one) announced.
    public enum Event: Sendable, Equatable {
        /// A committed board change.
        case board(spaceID: UUID, meetingID: UUID, seq: Int)
        /// The people present on `instanceID` changed.
        case presence(spaceID: UUID, meetingID: UUID, instanceID: UUID)
        /// Notes changes were committed up to `seq`.
        case notes(spaceID: UUID, meetingID: UUID, seq: Int)
    }

    let target: PostgresTarget
    let logger: Logger
    let onConnect: @Sendable () async -> Void
    let onChange: @Sendable (Event) async -> Void

    public init(url: String, logger: Logger, onConnect: @escaping @Sendable () async -> Void,
                onChange: @escaping @Sendable (Event) async -> Void) throws {
        target = try PostgresTarget(url: url)
        self.logger = logger
        self.onConnect = onConnect
        self.onChange = onChange
    }

    /// "board SPACE MEETING SEQ", "notes SPACE MEETING SEQ" or "presence SPACE MEETING INSTANCE"
    /// → the event, or nil for anything else.
    static func parse(_ payload: String) -> Event? {
        let parts = payload.split(separator: " ").map(String.init)
        guard parts.count == 4, let space = UUID(uuidString: parts[1]), let meeting = UUID(uuidString: parts[2]) else { return nil }
        switch parts[0] {
        case "board": return Int(parts[3]).map { .board(spaceID: space, meetingID: meeting, seq: $0) }
        case "presence": return UUID(uuidString: parts[3]).map { .presence(spaceID: space, meetingID: meeting, instanceID: $0) }
        case "notes": return Int(parts[3]).map { .notes(spaceID: space, meetingID: meeting, seq: $0) }
        default: return nil
        }
    }

    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            var attempt = 0
            while !Task.isCancelled {
                do {
                    let connection = try await target.connect(logger: logger)
                    do {
                        try await connection.listen(on: PostgresStore.channel) { notifications in
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
