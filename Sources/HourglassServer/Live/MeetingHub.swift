import Foundation
import HourglassCore

/// Fan-out of board changes to the open sockets of each meeting, within one process.
///
/// Each connection holds a signal stream that buffers at most one pending "something changed";
/// when its writer wakes it sends the latest state. Many changes in a burst become one frame,
/// a slow client never builds a queue, and nothing is dropped: the next frame carries it all.
actor MeetingHub {
    /// Where someone is editing the notes.
    struct Caret: Encodable, Equatable {
        var client: String
        var name: String
        var bullet: String?
        var offset: Int
    }

    struct Connection {
        var userName: String?
        var outbox: Outbox
    }

    private struct Room {
        var board: Board
        var connections: [UUID: Connection] = [:]
        /// People present through other server instances ("" for a guest).
        var remote: [String] = []
        /// The shared JSON of the board, rebuilt only when the board or presence changed.
        var cachedJSON: String?
        /// Grows whenever the board or presence changes, so writers send a board only when new.
        var version = 0
        /// Who edits which bullet, per connection, and its own version.
        var carets: [UUID: Caret] = [:]
        var caretVersion = 0
    }

    /// Caret moves reach the writers at most every 50 ms per meeting: with a thousand people
    /// moving their carets, each connection gets a few caret frames a second, not thousands.
    private let caretPacer = Pacer(interval: .milliseconds(50))

    private var rooms: [UUID: Room] = [:]

    /// Registers a connection; `signal` is yielded whenever the board or presence changed.
    func join(_ board: Board, connectionID: UUID, userName: String?, outbox: Outbox) {
        var room = rooms[board.meeting.id] ?? Room(board: board)
        if board.meeting.seq > room.board.meeting.seq { room.board = board }
        room.connections[connectionID] = Connection(userName: userName, outbox: outbox)
        rooms[board.meeting.id] = room
        signalAll(board.meeting.id)
    }

    func leave(meetingID: UUID, connectionID: UUID) {
        guard var room = rooms[meetingID] else { return }
        room.connections.removeValue(forKey: connectionID)
        if room.carets.removeValue(forKey: connectionID) != nil { room.caretVersion += 1 }
        if room.connections.isEmpty {
            rooms[meetingID] = nil
        } else {
            rooms[meetingID] = room
            signalAll(meetingID)
        }
    }

    /// Publishes a committed board; older sequence numbers than what is known are ignored.
    func publish(_ board: Board) {
        guard var room = rooms[board.meeting.id], board.meeting.seq > room.board.meeting.seq else { return }
        room.board = board
        rooms[board.meeting.id] = room
        signalAll(board.meeting.id)
    }

    /// The latest board published for a meeting with open sockets here.
    func board(meetingID: UUID) -> Board? { rooms[meetingID]?.board }

    /// The latest board, its shared JSON and its version for a meeting.
    func snapshot(meetingID: UUID) -> (board: Board, json: String, version: Int)? {
        guard var room = rooms[meetingID] else { return nil }
        if let json = room.cachedJSON { return (room.board, json, room.version) }
        let json = JSON.string(PublicBoard(room.board, present: presence(room)))
        room.cachedJSON = json
        rooms[meetingID] = room
        return (room.board, json, room.version)
    }

    /// Names of the people with the meeting open, each once, sorted.
    func present(meetingID: UUID) -> [String] {
        rooms[meetingID].map(presence) ?? []
    }

    /// Who is here through this instance, one entry per connection ("" for a guest).
    func localEntries(meetingID: UUID) -> [String] {
        rooms[meetingID]?.connections.values.map { $0.userName ?? "" } ?? []
    }

    /// Replaces who is here through other instances, and tells the sockets when it changed.
    func setRemote(meetingID: UUID, entries: [String]) {
        guard var room = rooms[meetingID], room.remote.sorted() != entries.sorted() else { return }
        room.remote = entries
        rooms[meetingID] = room
        signalAll(meetingID)
    }

    /// Records where a connection's person is editing; every writer of the meeting hears of it
    /// within 50 ms, together with the other moves made meanwhile.
    func setCaret(meetingID: UUID, connectionID: UUID, caret: Caret) async {
        guard var room = rooms[meetingID], room.carets[connectionID] != caret else { return }
        room.carets[connectionID] = caret
        room.caretVersion += 1
        rooms[meetingID] = room
        await caretPacer.request(meetingID) { await self.announceCarets(meetingID: meetingID) }
    }

    private func announceCarets(meetingID: UUID) {
        guard let room = rooms[meetingID] else { return }
        for connection in room.connections.values { connection.outbox.markCarets() }
    }

    /// Everyone's carets and their version.
    func carets(meetingID: UUID) -> (carets: [Caret], version: Int)? {
        rooms[meetingID].map { room in (room.carets.values.sorted { $0.client < $1.client }, room.caretVersion) }
    }

    /// Meetings with at least one open socket here, as (space, meeting) ids.
    func openMeetings() -> [(UUID, UUID)] {
        rooms.values.map { ($0.board.meeting.spaceID, $0.board.meeting.id) }
    }

    func connectionCount(meetingID: UUID) -> Int { rooms[meetingID]?.connections.count ?? 0 }

    private func presence(_ room: Room) -> [String] {
        let entries = room.connections.values.map { $0.userName ?? "" } + room.remote
        let names = Set(entries.filter { !$0.isEmpty })
        let guests = entries.filter(\.isEmpty).count
        return names.sorted { $0.localizedCaseInsensitiveCompare($1) == .orderedAscending }
            + (guests > 0 ? ["\(guests) guest\(guests == 1 ? "" : "s")"] : [])
    }

    private func signalAll(_ meetingID: UUID) {
        guard var room = rooms[meetingID] else { return }
        room.cachedJSON = nil
        room.version += 1
        rooms[meetingID] = room
        for connection in room.connections.values { connection.outbox.markBoard() }
    }
}
