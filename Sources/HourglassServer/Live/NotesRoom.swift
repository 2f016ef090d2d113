import Foundation
import HourglassCore
import HourglassStore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle

/// What one connection has yet to be sent, shared by the room (which fills it) and the
/// connection's writer (which empties it). Bounded: a connection that falls more than `limit`
/// entries behind is told to resync from its last sequence number instead of queueing forever.
final class Outbox: Sendable {
    static let limit = 20_000

    /// What to send, in order: note entries (sent together as `notes` frames) or whole frames
    /// (a snapshot, a catch-up) that must go out before the entries queued after them.
    enum Item: Sendable {
        /// The entries of one commit, encoded once and joined by commas, shared (not copied) by
        /// every connection they go to; and how many entries that is.
        case entries(ByteBuffer, count: Int)
        case frame(String)
    }

    /// What the writer has to do on its next wake-up.
    struct Work {
        var items: [Item] = []
        var overflowed = false
        var boardChanged = false
        var caretsChanged = false
    }

    private struct State {
        var work = Work()
        var entries = 0
        /// While a `hello` is being answered, entries queue but nothing is sent.
        var held = false
    }

    private let state = NIOLockedValueBox(State())
    let signal: AsyncStream<Void>.Continuation

    init(signal: AsyncStream<Void>.Continuation) {
        self.signal = signal
    }

    /// Queues `count` encoded note entries (JSON objects joined by commas) and wakes the writer.
    func push(_ chunk: ByteBuffer, count: Int) {
        state.withLockedValue { state in
            guard !state.work.overflowed else { return }
            if state.entries + count > Self.limit {
                state.work.items = []
                state.entries = 0
                state.work.overflowed = true
            } else {
                state.work.items.append(.entries(chunk, count: count))
                state.entries += count
            }
        }
        signal.yield()
    }

    /// The board or presence changed: the writer sends the board on its next wake-up.
    func markBoard() {
        state.withLockedValue { $0.work.boardChanged = true }
        signal.yield()
    }

    /// Someone's caret moved.
    func markCarets() {
        state.withLockedValue { $0.work.caretsChanged = true }
        signal.yield()
    }

    /// Puts what the writer could not send yet back in front of what was queued since.
    func putBack(_ items: ArraySlice<Item>) {
        state.withLockedValue { state in
            // Past the limit meanwhile: the resync that is coming covers these too.
            guard !state.work.overflowed else { return }
            state.work.items.insert(contentsOf: items, at: 0)
            state.entries += items.reduce(0) { if case let .entries(_, count) = $1 { $0 + count } else { $0 } }
        }
    }

    /// Holds sending until `release(before:)`: entries committed meanwhile wait behind the reply.
    func hold() {
        state.withLockedValue { $0.held = true }
    }

    /// Puts `frames` in front of everything queued and lets the writer send again.
    func release(before frames: [String]) {
        state.withLockedValue { state in
            state.work.items.insert(contentsOf: frames.map(Item.frame), at: 0)
            state.held = false
        }
        signal.yield()
    }

    /// Everything to do now (notes wait while a hello is being answered; board and carets do not).
    func take() -> Work {
        state.withLockedValue { state in
            var work = state.work
            if state.held {
                work.items = []
                work.overflowed = false
                state.work.boardChanged = false
                state.work.caretsChanged = false
                return work
            }
            state.work = Work()
            state.entries = 0
            return work
        }
    }
}

/// The live notes of one meeting on this server: the committed document, recent text history
/// for transforms, and the connections to tell. Changes are committed by `NotesCommitter` in
/// groups (one transaction for everything that arrived meanwhile) and are sent to every
/// connection, the sender included, only after they are durable, in sequence order.
actor NotesRoom {
    let spaceID: UUID
    let meetingID: UUID
    private let store: any HourglassStore
    private let now: @Sendable () -> Date
    private(set) var document: NotesDocument
    private(set) var seq: Int
    private var clientSeqs: [String: Int]
    /// Text operations per bullet by revision: `history[id]` holds the ops from `historyStart[id]` on.
    private var history: [String: [TextOperation]] = [:]
    private var historyStart: [String: Int] = [:]
    private var connections: [UUID: Outbox] = [:]
    private var queue: [Pending] = []
    /// Whether a flush has been asked of the committer or is running (a running flush takes
    /// whatever is queued meanwhile, so a room needs at most one).
    private var flushState: FlushState = .idle
    private enum FlushState { case idle, scheduled, running }
    private var lastCommit: ContinuousClock.Instant?

    /// The shortest time between two commits of this room: 40 µs per connection, at most 50 ms.
    /// Every commit is sent to every connection as one frame, so this bounds the fan-out work per
    /// second whatever the number of connections, and changes arriving meanwhile share a commit.
    /// A meeting of 100 waits at most 4 ms, a meeting of 1000 at most 40 ms.
    var commitPace: Duration { min(.milliseconds(50), .microseconds(40 * connections.count)) }

    static let maxChangesPerFrame = 500

    struct Pending {
        var client: String
        var userID: UUID?
        var changes: [(clientSeq: Int, change: NoteChange)]
        var reply: AsyncStream<Result<Int, NotesError>>.Continuation
    }

    init(spaceID: UUID, meetingID: UUID, sections: Set<String>, state: NotesState, store: any HourglassStore, now: @escaping @Sendable () -> Date) {
        self.spaceID = spaceID
        self.meetingID = meetingID
        self.store = store
        self.now = now
        document = NotesDocument(sections: sections, bullets: state.bullets)
        seq = state.seq
        clientSeqs = state.clientSeqs
        for bullet in state.bullets { historyStart[bullet.id] = bullet.rev }
    }

    var isIdle: Bool { connections.isEmpty && queue.isEmpty }

    func setSections(_ sections: Set<String>) {
        document.sections = sections.union([NotesDocument.meetingSection])
    }

    // MARK: Connections

    enum Start {
        /// The whole document at `seq`, and the last change of this client that is in it.
        case snapshot(bullets: [Bullet], seq: Int, clientSeq: Int)
        /// The connection must be sent the entries after `from` up to `to` from the op log first.
        case catchUp(from: Int, to: Int)
    }

    /// Registers a connection. Entries committed from now on are pushed to its outbox; what came
    /// before is either the snapshot or a catch-up range the caller reads from the store.
    func join(connectionID: UUID, outbox: Outbox, client: String, since: Int?) -> Start {
        connections[connectionID] = outbox
        if let since, since >= 0, since <= seq {
            return .catchUp(from: since, to: seq)
        }
        return .snapshot(bullets: document.children(ofAll: ()), seq: seq, clientSeq: clientSeqs[client] ?? 0)
    }

    func leave(connectionID: UUID) {
        connections[connectionID] = nil
    }

    // MARK: Changes

    /// Queues a client's changes (all or nothing) and waits until they are committed; returns the
    /// notes sequence number after them. Changes whose client sequence number was applied before
    /// are skipped, so a client may safely send again what it is unsure about.
    func submit(client: String, userID: UUID?, changes: [(clientSeq: Int, change: NoteChange)], committer: NotesCommitter) async -> Result<Int, NotesError> {
        guard changes.count <= Self.maxChangesPerFrame else {
            return .failure(NotesError(.tooLarge, "At most \(Self.maxChangesPerFrame) changes per message; send them in several"))
        }
        let (stream, reply) = AsyncStream.makeStream(of: Result<Int, NotesError>.self, bufferingPolicy: .bufferingNewest(1))
        queue.append(Pending(client: client, userID: userID, changes: changes, reply: reply))
        if flushState == .idle {
            flushState = .scheduled
            committer.schedule(self)
        }
        for await result in stream { return result }
        return .failure(NotesError(.invalid, "The server is shutting down; send again after reconnecting"))
    }

    /// Commits everything queued, in one transaction per round, at most once per `commitPace`.
    /// Called by the committer only.
    func flush() async {
        guard flushState == .scheduled else { return }
        flushState = .running
        defer { flushState = .idle }
        while !queue.isEmpty {
            if let lastCommit {
                let wait = lastCommit + commitPace - .now
                if wait > .zero { try? await Task.sleep(for: wait) }
            }
            lastCommit = .now
            let batch = queue
            queue = []
            await loadMissingHistory(for: batch)
            let base = (document: document, seq: seq, clientSeqs: clientSeqs, history: history, historyStart: historyStart)
            let clock = now()
            let box = NIOLockedValueBox<Outcome?>(nil)
            do {
                _ = try await store.commitNotes(spaceID: spaceID, meetingID: meetingID, knownSeq: base.seq) { missed in
                    let outcome = Self.decide(batch, on: base, missed: missed, at: clock)
                    box.withLockedValue { $0 = outcome }
                    return NotesCommit(entries: outcome.newEntries, bullets: outcome.changedBullets)
                }
                guard let outcome = box.withLockedValue({ $0 }) else {
                    throw NotesError(.invalid, "The store committed without deciding")
                }
                // A catch-up from another instance may have run meanwhile (and may even be ahead of
                // this commit): send only what is new here, and never go back to an older state.
                let unsent = (outcome.missed + outcome.newEntries).filter { $0.seq > seq }
                if outcome.state.seq >= seq {
                    document = outcome.state.document
                    seq = outcome.state.seq
                    clientSeqs = outcome.state.clientSeqs
                    history = outcome.state.history
                    historyStart = outcome.state.historyStart
                    trimHistory()
                }
                broadcast(unsent)
                for (pending, result) in zip(batch, outcome.results) {
                    pending.reply.yield(result.map { _ in seq })
                    pending.reply.finish()
                }
            } catch {
                for pending in batch {
                    pending.reply.yield(.failure(NotesError(.invalid, "The notes could not be saved; send again")))
                    pending.reply.finish()
                }
            }
        }
    }

    /// Entries committed by another server: read them from the store and pass them on.
    func catchUpFromStore() async {
        guard let entries = try? await store.noteEntries(meetingID: meetingID, after: seq, limit: 100_000) else { return }
        // Another catch-up or a commit may have run while this one waited for the store.
        let fresh = entries.filter { $0.seq > seq }
        guard !fresh.isEmpty else { return }
        var state = (document: document, seq: seq, clientSeqs: clientSeqs, history: history, historyStart: historyStart)
        for entry in fresh { Self.replay(entry, into: &state) }
        (document, seq, clientSeqs, history, historyStart) = state
        broadcast(fresh)
    }

    private func broadcast(_ entries: [NoteEntry]) {
        guard !entries.isEmpty else { return }
        let chunk = ByteBuffer(string: entries.map { JSON.string($0.live) }.joined(separator: ","))
        for outbox in connections.values { outbox.push(chunk, count: entries.count) }
    }

    private func loadMissingHistory(for batch: [Pending]) async {
        for pending in batch {
            for (_, change) in pending.changes {
                guard case let .text(id, rev, _) = change, let start = historyStart[id], rev < start, rev >= 0 else { continue }
                if let older = try? await store.textHistory(meetingID: meetingID, bullet: id, fromRev: rev), older.count >= start - rev {
                    history[id] = Array(older.prefix(start - rev)) + (history[id] ?? [])
                    historyStart[id] = rev
                }
            }
        }
    }

    private func trimHistory() {
        for (id, ops) in history where ops.count > 4000 {
            history[id] = Array(ops.suffix(2000))
            historyStart[id] = (historyStart[id] ?? 0) + ops.count - 2000
        }
    }

    // MARK: Deciding (pure)

    typealias State = (document: NotesDocument, seq: Int, clientSeqs: [String: Int], history: [String: [TextOperation]], historyStart: [String: Int])

    struct Outcome {
        var state: State
        var missed: [NoteEntry]
        var newEntries: [NoteEntry]
        var changedBullets: [Bullet]
        var results: [Result<Void, NotesError>]
    }

    /// Applies what other writers committed, then each pending batch all-or-nothing.
    static func decide(_ batch: [Pending], on base: State, missed: [NoteEntry], at now: Date) -> Outcome {
        var state = base
        for entry in missed where entry.seq > state.seq { replay(entry, into: &state) }
        var entries: [NoteEntry] = []
        var touched = Set<String>()
        var results: [Result<Void, NotesError>] = []
        for pending in batch {
            var trial = state
            var trialEntries: [NoteEntry] = []
            var trialTouched = Set<String>()
            do {
                for (clientSeq, change) in pending.changes {
                    if clientSeq <= (trial.clientSeqs[pending.client] ?? 0) { continue }
                    trialTouched.formUnion(affected(by: change, in: trial.document))
                    let applied = try trial.document.apply(change) { id, rev in
                        let start = trial.historyStart[id] ?? 0
                        guard rev >= start else { throw NotesError(.stale, "Revision \(rev) is too old to merge; reload the notes") }
                        return Array((trial.history[id] ?? []).dropFirst(rev - start))
                    }
                    trial.seq += 1
                    trial.clientSeqs[pending.client] = clientSeq
                    record(applied, into: &trial)
                    trialEntries.append(NoteEntry(seq: trial.seq, client: pending.client, clientSeq: clientSeq,
                                                  userID: pending.userID, change: applied, at: now))
                }
                state = trial
                entries += trialEntries
                touched.formUnion(trialTouched)
                results.append(.success(()))
            } catch let error as NotesError {
                results.append(.failure(error))
            } catch {
                results.append(.failure(NotesError(.invalid, "\(error)")))
            }
        }
        let bullets = touched.compactMap { state.document.bullets[$0] }
        return Outcome(state: state, missed: missed.filter { $0.seq > base.seq }, newEntries: entries, changedBullets: bullets, results: results)
    }

    /// The bullet a change touches, plus children that a delete moves up.
    static func affected(by change: NoteChange, in document: NotesDocument) -> [String] {
        if case let .delete(id) = change { return [id] + document.bullets.values.filter { $0.parent == id }.map(\.id) }
        return [change.bulletID]
    }

    static func replay(_ entry: NoteEntry, into state: inout State) {
        _ = try? state.document.replay(entry.change)
        state.seq = entry.seq
        state.clientSeqs[entry.client] = max(state.clientSeqs[entry.client] ?? 0, entry.clientSeq)
        record(entry.change, into: &state)
    }

    private static func record(_ change: NoteChange, into state: inout State) {
        switch change {
        case let .text(id, _, op):
            state.history[id, default: []].append(op)
            if state.historyStart[id] == nil { state.historyStart[id] = 0 }
        case let .create(id, _, _, _):
            state.historyStart[id] = 0
            state.history[id] = []
        default:
            break
        }
    }
}

extension NotesDocument {
    /// Every bullet, deleted ones included (clients keep tombstones so late edits resolve).
    func children(ofAll _: Void) -> [Bullet] { allBullets.sorted { $0.id < $1.id } }
}

/// Commits queued notes changes on long-lived tasks of the service group (one per room with work,
/// rooms side by side), so a commit never belongs to (and is never cancelled with) the
/// connection that happened to send it. Graceful shutdown lets started commits finish.
final class NotesCommitter: Service, Sendable {
    private let stream: AsyncStream<NotesRoom>
    private let continuation: AsyncStream<NotesRoom>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: NotesRoom.self)
    }

    func schedule(_ room: NotesRoom) {
        continuation.yield(room)
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for await room in stream {
                    group.addTask { await room.flush() }
                }
            }
        } onGracefulShutdown: {
            self.continuation.finish()
        }
    }
}

/// The notes rooms of this server, one per meeting with open sockets.
actor NotesRooms {
    private var rooms: [UUID: NotesRoom] = [:]
    let store: any HourglassStore
    let now: @Sendable () -> Date

    init(store: any HourglassStore, now: @escaping @Sendable () -> Date) {
        self.store = store
        self.now = now
    }

    /// Joins that are under way, per meeting: a room is never released while one is.
    private var joining: [UUID: Int] = [:]

    /// Finds (or loads) the meeting's room and registers the connection in it, as one step with
    /// respect to `release`.
    func join(_ board: Board, connectionID: UUID, outbox: Outbox, client: String, since: Int?) async throws -> (NotesRoom, NotesRoom.Start) {
        let id = board.meeting.id
        joining[id, default: 0] += 1
        defer { joining[id, default: 1] -= 1 }
        let room: NotesRoom
        if let existing = rooms[id] {
            room = existing
        } else {
            let state = try await store.notes(meetingID: id)
            if let existing = rooms[id] {
                room = existing
            } else {
                room = NotesRoom(spaceID: board.meeting.spaceID, meetingID: id, sections: board.sectionIDs, state: state, store: store, now: now)
                rooms[id] = room
                // Another instance may have committed (and announced) while this room was loading.
                await room.catchUpFromStore()
            }
        }
        return (room, await room.join(connectionID: connectionID, outbox: outbox, client: client, since: since))
    }

    func existing(_ meetingID: UUID) -> NotesRoom? { rooms[meetingID] }

    func all() -> [NotesRoom] { Array(rooms.values) }

    /// Forgets a room nobody uses (it reloads from the store when needed again).
    func release(_ meetingID: UUID) async {
        guard let room = rooms[meetingID], joining[meetingID, default: 0] == 0 else { return }
        let idle = await room.isIdle
        // Someone may have started joining while this waited.
        guard idle, joining[meetingID, default: 0] == 0, rooms[meetingID] === room else { return }
        rooms[meetingID] = nil
    }
}

extension Board {
    /// Sections of the notes: the meeting's own and one per topic that was ever proposed.
    var sectionIDs: Set<String> {
        Set(topics.map { $0.id.uuidString.lowercased() }).union([NotesDocument.meetingSection])
    }
}
