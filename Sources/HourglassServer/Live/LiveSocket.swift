import Foundation
import HourglassCore
import HourglassStore
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOWebSocket

/// One WebSocket per open meeting page: the server pushes the board whenever it changes and the
/// notes changes as they are committed; the client sends board commands and notes changes.
/// See docs/protocol.md for every message.
struct LiveSocket: Sendable {
    static let maxMessageSize = 64 * 1024
    /// Most note entries sent in one frame.
    static let notesPerFrame = 2000

    let boards: BoardService
    let notes: NotesRooms
    let committer: NotesCommitter
    /// Shares presence with other instances (PostgreSQL only).
    let presence: PresenceRelay?

    /// Per-connection facts the handlers need.
    struct Session: Sendable {
        let connectionID = UUID()
        let board: Board
        let access: SpaceAccess
        let user: User?
        let outbox: Outbox
        let logger: Logger
        /// The client id given in `hello`; notes frames must use it.
        let client = NIOLockedValueBox<String?>(nil)
        var spaceID: UUID { board.meeting.spaceID }
        var meetingID: UUID { board.meeting.id }
    }

    /// Serves one connection until the client leaves or the server shuts down. Protocol errors
    /// (a message over the size limit, a text frame that is not UTF-8) propagate, so the socket
    /// closes with their code (1009, 1007).
    func serve(board: Board, access: SpaceAccess, user: User?, inbound: WebSocketInboundStream,
               outbound: WebSocketOutboundWriter, channel: any NIOCore.Channel, logger: Logger) async throws {
        let (signals, signal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let session = Session(board: board, access: access, user: user, outbox: Outbox(signal: signal), logger: logger)
        await boards.hub.join(board, connectionID: session.connectionID, userName: user?.name, outbox: session.outbox)
        await presence?.shareSoon(spaceID: session.spaceID, meetingID: session.meetingID)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await self.push(signals, session: session, to: ConnectionWriter(channel: channel)) }
                group.addTask { try await self.read(inbound, session: session, outbound: outbound) }
                try await group.next()
                group.cancelAll()
            }
        } catch {
            await leave(session)
            throw error
        }
        await leave(session)
    }

    private func leave(_ session: Session) async {
        signalFinish(session)
        await boards.hub.leave(meetingID: session.meetingID, connectionID: session.connectionID)
        if let room = await notes.existing(session.meetingID) {
            await room.leave(connectionID: session.connectionID)
            await notes.release(session.meetingID)
        }
        await presence?.shareSoon(spaceID: session.spaceID, meetingID: session.meetingID)
    }

    private func signalFinish(_ session: Session) { session.outbox.signal.finish() }

    /// Sends the board when it changed, the carets when they changed and the queued notes
    /// entries. Whatever arrives while a frame is being written goes out together in the next
    /// one, so bursts coalesce without a timer per connection (a group commit already arrives as
    /// one push; caret moves are paced per meeting by the hub).
    ///
    /// It runs on the connection's event loop (isolated to `writer`): a frame is written without a
    /// thread hop, and a commit that wakes a thousand writers wakes each event loop once. Writing
    /// stops once the socket's send buffer is past its high-water mark (the rest goes back to the
    /// front of the outbox); what is queued meanwhile goes out in bigger frames when the client
    /// catches up, or as a resync when it fell too far behind.
    private func push(_ signals: AsyncStream<Void>, session: Session, to writer: isolated ConnectionWriter) async {
        var sentVersion = -1
        var sentCarets = 0
        for await _ in signals {
            guard writer.channel.isActive else { return }
            guard writer.channel.isWritable else {
                writer.wakeLater(session.outbox.signal)
                continue
            }
            // Only what changed is looked up: a burst of notes does not touch the board.
            let work = session.outbox.take()
            if work.boardChanged || sentVersion < 0,
               let (board, json, version) = await boards.hub.snapshot(meetingID: session.meetingID), version != sentVersion {
                sentVersion = version
                let me = JSON.string(PersonalBoard(board, user: session.user, access: session.access))
                writer.write(#"{"type":"board","serverNow":\#(boards.now().millis),"board":\#(json),"me":\#(me)}"#)
            }
            if work.caretsChanged, let (carets, version) = await boards.hub.carets(meetingID: session.meetingID), version != sentCarets {
                sentCarets = version
                writer.write(#"{"type":"carets","carets":\#(JSON.string(carets))}"#)
            }
            if work.overflowed {
                writer.write(#"{"type":"resync"}"#)
            } else {
                let unsent = send(work.items, to: writer)
                if !unsent.isEmpty {
                    session.outbox.putBack(unsent)
                    writer.wakeLater(session.outbox.signal)
                }
            }
            writer.channel.flush()
        }
    }

    static let notesPrefix = ByteBuffer(string: #"{"type":"notes","changes":["#)
    static let notesSuffix = ByteBuffer(string: "]}")

    /// Writes queued items in order, while the socket takes them: whole frames as they are, runs
    /// of entries as `notes` frames (at most `notesPerFrame` entries) assembled from the shared
    /// encoded chunks (one per commit) without going through strings. Returns what was not written.
    private func send(_ items: [Outbox.Item], to writer: isolated ConnectionWriter) -> ArraySlice<Outbox.Item> {
        var index = items.startIndex
        while index < items.endIndex, writer.channel.isWritable {
            if case let .frame(frame) = items[index] {
                writer.write(frame)
                index += 1
                continue
            }
            var chunks: [ByteBuffer] = []
            var count = 0
            while index < items.endIndex, case let .entries(chunk, entries) = items[index], count == 0 || count + entries <= Self.notesPerFrame {
                chunks.append(chunk)
                count += entries
                index += 1
            }
            let size = chunks.reduce(Self.notesPrefix.readableBytes + Self.notesSuffix.readableBytes) { $0 + $1.readableBytes + 1 }
            var frame = writer.channel.allocator.buffer(capacity: size)
            frame.writeImmutableBuffer(Self.notesPrefix)
            for (position, chunk) in chunks.enumerated() {
                if position > 0 { frame.writeStaticString(",") }
                frame.writeImmutableBuffer(chunk)
            }
            frame.writeImmutableBuffer(Self.notesSuffix)
            writer.write(frame)
        }
        return items[index...]
    }

    private func read(_ inbound: WebSocketInboundStream, session: Session, outbound: WebSocketOutboundWriter) async throws {
        for try await message in inbound.messages(maxSize: Self.maxMessageSize) {
            for reply in await handle(message, session: session) {
                try await outbound.write(.text(reply))
            }
        }
    }

    /// Handles one client message and returns the direct replies (acks, errors, a pong, a notes
    /// snapshot or catch-up). Live board and notes updates go through the outbox instead.
    func handle(_ message: WebSocketMessage, session: Session) async -> [String] {
        let text: String
        switch message {
        case let .text(string): text = string
        case let .binary(buffer):
            guard let string = String(validating: buffer.readableBytesView, as: UTF8.self) else {
                return [Self.error(id: nil, code: "malformed", "Frames must be UTF-8 JSON")]
            }
            text = string
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            return [Self.error(id: nil, code: "malformed", "Frames must be JSON objects such as {\"type\":\"command\",\"id\":\"1\",\"command\":{…}}")]
        }
        let id = (object["id"] as? String).map { String($0.prefix(64)) }
        switch object["type"] as? String {
        case "ping":
            return [#"{"type":"pong"}"#]
        case "command":
            return [await command(object, id: id, session: session)]
        case "hello":
            return await hello(object, session: session)
        case "notes":
            return [await notesChanges(text, id: id, session: session)]
        case "caret":
            return await caret(object, session: session)
        default:
            return [Self.error(id: id, code: "malformed", "Unknown message type; expected \"command\", \"hello\", \"notes\" or \"ping\"")]
        }
    }

    private func command(_ object: [String: Any], id: String?, session: Session) async -> String {
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
        guard let actor = actor(session) else {
            return Self.error(id: id, code: "forbidden", session.user == nil ? "Sign in to take part" : "Only members of this space can take part")
        }
        do {
            let command = try BoardCommand(fields: fields)
            let result = try await boards.execute(command, by: actor, spaceID: session.spaceID, meetingID: session.meetingID)
            return #"{"type":"ack","id":\#(JSON.string(id)),"seq":\#(result.meeting.seq)}"#
        } catch let error as BoardError {
            return Self.error(id: id, code: error.kind.rawValue, error.message)
        } catch {
            session.logger.error("WebSocket command failed", metadata: ["error": "\(String(reflecting: error))"])
            return Self.error(id: id, code: "internal", "Something went wrong on our side; the error has been logged")
        }
    }

    private func actor(_ session: Session) -> Actor? {
        guard let user = session.user, session.access.canParticipate(signedIn: true) else { return nil }
        return Actor(userID: user.id, name: user.name, canFacilitate: session.access.canFacilitate)
    }

    /// Starts (or restarts) the notes stream: a snapshot, or the entries missed since `since`.
    private func hello(_ object: [String: Any], session: Session) async -> [String] {
        guard let client = object["client"] as? String, NotesDocument.isValidID(client) else {
            return [Self.error(id: nil, code: "malformed", "hello needs \"client\": 1 to 64 letters, digits, - or _")]
        }
        let previous = session.client.withLockedValue { current in
            defer { current = client }
            return current
        }
        guard previous == nil || previous == client else {
            return [Self.error(id: nil, code: "malformed", "A connection keeps the client id of its first hello")]
        }
        let since = object["since"] as? Int
        // The reply goes through the outbox, ahead of entries committed while it is prepared,
        // so everything arrives in sequence order.
        session.outbox.hold()
        var frames: [String] = []
        do {
            let (_, start) = try await notes.join(await currentBoard(session), connectionID: session.connectionID,
                                                  outbox: session.outbox, client: client, since: since)
            switch start {
            case let .snapshot(bullets, seq, clientSeq):
                frames = [#"{"type":"notesSnapshot","seq":\#(seq),"clientSeq":\#(clientSeq),"bullets":\#(JSON.string(bullets))}"#]
            case let .catchUp(from, to):
                var after = from
                while after < to {
                    let entries = try await boards.store.noteEntries(meetingID: session.meetingID, after: after, limit: Self.notesPerFrame)
                    let upTo = entries.filter { $0.seq <= to }
                    guard let last = upTo.last else { break }
                    frames.append(#"{"type":"notes","changes":[\#(upTo.map { JSON.string($0.live) }.joined(separator: ","))]}"#)
                    after = last.seq
                }
                frames.append(#"{"type":"notesReady","seq":\#(to)}"#)
            }
        } catch {
            session.logger.error("Notes could not be opened", metadata: ["error": "\(String(reflecting: error))"])
            frames = [Self.error(id: nil, code: "internal", "The notes could not be loaded; the error has been logged")]
        }
        session.outbox.release(before: frames)
        return []
    }

    /// `{"type":"caret","client":C?,"bullet":B|null,"offset":n}`: shown to everyone else as a marker
    /// (`client` defaults to an id of the connection).
    private func caret(_ object: [String: Any], session: Session) async -> [String] {
        guard let user = session.user, session.access.canParticipate(signedIn: true) else { return [] }
        let bullet = object["bullet"] as? String
        let client = object["client"] as? String ?? session.connectionID.uuidString.lowercased()
        guard NotesDocument.isValidID(client),
              bullet == nil || NotesDocument.isValidID(bullet!), let offset = object["offset"] as? Int ?? (bullet == nil ? 0 : nil),
              (0...NotesDocument.maxTextLength).contains(offset) else {
            return [Self.error(id: nil, code: "malformed", "A caret is {\"type\":\"caret\",\"client\":…,\"bullet\":…|null,\"offset\":n}")]
        }
        await boards.hub.setCaret(meetingID: session.meetingID, connectionID: session.connectionID,
                                  caret: .init(client: client, name: user.name, bullet: bullet, offset: offset))
        return []
    }

    /// The meeting's latest board as published to this instance (no database read per hello: the
    /// hub holds it while any socket of the meeting is open, and new topics reach the notes room
    /// as they are published).
    private func currentBoard(_ session: Session) async -> Board {
        await boards.hub.board(meetingID: session.meetingID) ?? session.board
    }

    /// A frame of notes changes: `{"type":"notes","id":"n1","client":"…","changes":[{"clientSeq":1,"kind":…}]}`.
    private func notesChanges(_ text: String, id: String?, session: Session) async -> String {
        struct Frame: Decodable {
            var client: String
            var changes: [Item]
        }
        struct Item: Decodable {
            var clientSeq: Int
            var change: NoteChange
            init(from decoder: Decoder) throws {
                enum Keys: String, CodingKey { case clientSeq }
                clientSeq = try decoder.container(keyedBy: Keys.self).decode(Int.self, forKey: .clientSeq)
                change = try NoteChange(from: decoder)
            }
        }
        guard let user = session.user, session.access.canParticipate(signedIn: true) else {
            return Self.error(id: id, code: "forbidden", session.user == nil ? "Sign in to edit the notes" : "Only members of this space can edit the notes")
        }
        let frame: Frame
        do {
            frame = try JSONDecoder().decode(Frame.self, from: Data(text.utf8))
        } catch let error as NotesError {
            return Self.error(id: id, code: error.code.rawValue, error.message)
        } catch {
            return Self.error(id: id, code: "malformed", "A notes frame is {\"type\":\"notes\",\"id\":…,\"client\":…,\"changes\":[{\"clientSeq\":1,\"kind\":\"text\",…}]}")
        }
        guard NotesDocument.isValidID(frame.client) else {
            return Self.error(id: id, code: "malformed", "\"client\" must be 1 to 64 letters, digits, - or _")
        }
        guard let hello = session.client.withLockedValue({ $0 }) else {
            return Self.error(id: id, code: "conflict", "Send hello before editing the notes")
        }
        guard hello == frame.client else {
            return Self.error(id: id, code: "malformed", "\"client\" must be the id this connection said hello with")
        }
        guard let room = await notes.existing(session.meetingID) else {
            return Self.error(id: id, code: "conflict", "Send hello before editing the notes")
        }
        let result = await room.submit(client: frame.client, userID: user.id,
                                       changes: frame.changes.map { ($0.clientSeq, $0.change) }, committer: committer)
        switch result {
        case let .success(seq): return #"{"type":"notesAck","id":\#(JSON.string(id)),"seq":\#(seq)}"#
        case let .failure(error): return Self.error(id: id, code: error.code.rawValue, error.message)
        }
    }

    static func error(id: String?, code: String, _ message: String) -> String {
        #"{"type":"error","id":\#(JSON.string(id)),"code":\#(JSON.string(code)),"message":\#(JSON.string(message))}"#
    }
}

/// Writes a connection's pushed frames straight into its channel, from the channel's own event
/// loop: code isolated to this actor runs on that loop, so writing needs no thread hop and
/// waking many writers costs one wake-up per event loop. (Replies to the client's own messages
/// still go through the WebSocket handler's writer; the two never split a frame.)
actor ConnectionWriter {
    let channel: any NIOCore.Channel
    private let executor: any SerialExecutor

    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    init(channel: any NIOCore.Channel) {
        self.channel = channel
        executor = channel.eventLoop.executor
    }

    /// How long to wait before looking again at a client that is not reading fast enough.
    static let retryWhenFull: TimeAmount = .milliseconds(20)
    /// When the scheduled look-again fires (wake-ups before then do not schedule more).
    private var retryAt: NIODeadline?

    func write(_ text: String) {
        write(channel.allocator.buffer(string: text))
    }

    /// Queues one text frame; `channel.flush()` sends what was queued.
    func write(_ data: ByteBuffer) {
        channel.write(WebSocketFrame(fin: true, opcode: .text, data: data), promise: nil)
    }

    /// Wakes the writer again a little later (the socket's send buffer is full), once however
    /// many times this is asked meanwhile.
    func wakeLater(_ signal: AsyncStream<Void>.Continuation) {
        let now = NIODeadline.now()
        if let retryAt, retryAt > now { return }
        retryAt = now + Self.retryWhenFull
        channel.eventLoop.scheduleTask(in: Self.retryWhenFull) { signal.yield() }
    }
}
