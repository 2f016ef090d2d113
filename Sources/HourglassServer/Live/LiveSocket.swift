import Foundation
import HourglassCore
import HourglassStore
import Hummingbird
import HummingbirdWebSocket
import Logging

/// One WebSocket per open meeting page: the server pushes the board whenever it changes, the
/// client sends commands. See docs/protocol.md for every message.
struct LiveSocket: Sendable {
    static let maxMessageSize = 64 * 1024
    /// How long a writer waits after a change so a burst of changes goes out as one frame.
    static let coalescingDelay: Duration = .milliseconds(5)

    let boards: BoardService
    /// Shares presence with other instances (PostgreSQL only).
    var presence: PresenceRelay?

    /// Serves one connection until the client leaves or the server shuts down. Protocol errors
    /// (a message over the size limit, a text frame that is not UTF-8) propagate, so the socket
    /// closes with their code (1009, 1007).
    func serve(board: Board, access: SpaceAccess, user: User?, inbound: WebSocketInboundStream,
               outbound: WebSocketOutboundWriter, logger: Logger) async throws {
        let connectionID = UUID()
        let meetingID = board.meeting.id
        let signals = await boards.hub.join(board, connectionID: connectionID, userName: user?.name)
        await presence?.publish(spaceID: board.meeting.spaceID, meetingID: meetingID)
        await presence?.refresh(meetingID: meetingID)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await self.pushBoards(signals, meetingID: meetingID, access: access, user: user, outbound: outbound) }
                group.addTask { try await self.readCommands(inbound, board: board, access: access, user: user, outbound: outbound, logger: logger) }
                try await group.next()
                group.cancelAll()
            }
        } catch {
            await leave(board, connectionID: connectionID)
            throw error
        }
        await leave(board, connectionID: connectionID)
    }

    private func leave(_ board: Board, connectionID: UUID) async {
        await boards.hub.leave(meetingID: board.meeting.id, connectionID: connectionID)
        await presence?.publish(spaceID: board.meeting.spaceID, meetingID: board.meeting.id)
    }

    private func pushBoards(_ signals: AsyncStream<Void>, meetingID: UUID, access: SpaceAccess, user: User?,
                            outbound: WebSocketOutboundWriter) async {
        for await _ in signals {
            try? await Task.sleep(for: Self.coalescingDelay)
            guard let (board, json) = await boards.hub.snapshot(meetingID: meetingID) else { return }
            let me = JSON.string(PersonalBoard(board, user: user, access: access))
            let frame = #"{"type":"board","serverNow":\#(boards.now().millis),"board":\#(json),"me":\#(me)}"#
            do { try await outbound.write(.text(frame)) } catch { return }
        }
    }

    private func readCommands(_ inbound: WebSocketInboundStream, board: Board, access: SpaceAccess, user: User?,
                              outbound: WebSocketOutboundWriter, logger: Logger) async throws {
        for try await message in inbound.messages(maxSize: Self.maxMessageSize) {
            let reply = await handle(message, board: board, access: access, user: user, logger: logger)
            try await outbound.write(.text(reply))
        }
    }

    /// Handles one client message and returns the reply frame (an ack, a pong or an error).
    func handle(_ message: WebSocketMessage, board: Board, access: SpaceAccess, user: User?, logger: Logger) async -> String {
        let text: String
        switch message {
        case let .text(string): text = string
        case let .binary(buffer):
            guard let string = String(validating: buffer.readableBytesView, as: UTF8.self) else {
                return Self.error(id: nil, code: "malformed", "Frames must be UTF-8 JSON")
            }
            text = string
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            return Self.error(id: nil, code: "malformed", "Frames must be JSON objects such as {\"type\":\"command\",\"id\":\"1\",\"command\":{…}}")
        }
        let id = (object["id"] as? String).map { String($0.prefix(64)) }
        switch object["type"] as? String {
        case "ping":
            return #"{"type":"pong"}"#
        case "command":
            guard let raw = object["command"] as? [String: Any] else {
                return Self.error(id: id, code: "malformed", "\"command\" must be an object such as {\"type\":\"vote\",\"topicId\":\"…\"}")
            }
            var fields: [String: String] = [:]
            for (key, value) in raw {
                guard let string = value as? String else {
                    return Self.error(id: id, code: "malformed", "Command field \"\(key.prefix(40))\" must be a string")
                }
                fields[key] = string
            }
            guard let user, access.canParticipate(signedIn: true) else {
                return Self.error(id: id, code: "forbidden", user == nil ? "Sign in to take part" : "Only members of this space can take part")
            }
            do {
                let command = try BoardCommand(fields: fields)
                let actor = Actor(userID: user.id, name: user.name, canFacilitate: access.canFacilitate)
                let result = try await boards.execute(command, by: actor, spaceID: board.meeting.spaceID, meetingID: board.meeting.id)
                return #"{"type":"ack","id":\#(JSON.string(id)),"seq":\#(result.meeting.seq)}"#
            } catch let error as BoardError {
                return Self.error(id: id, code: error.kind.rawValue, error.message)
            } catch {
                logger.error("WebSocket command failed", metadata: ["error": "\(String(reflecting: error))"])
                return Self.error(id: id, code: "internal", "Something went wrong on our side; the error has been logged")
            }
        default:
            return Self.error(id: id, code: "malformed", "Unknown message type; expected \"command\" or \"ping\"")
        }
    }

    static func error(id: String?, code: String, _ message: String) -> String {
        #"{"type":"error","id":\#(JSON.string(id)),"code":\#(JSON.string(code)),"message":\#(JSON.string(message))}"#
    }
}
