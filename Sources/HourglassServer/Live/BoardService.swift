import Foundation
import HourglassCore
import HourglassStore
import Logging
import ServiceLifecycle

/// The one path every board command takes, whichever door it came in by (form, JSON API,
/// WebSocket, timer): the store applies it in a transaction, then each changed board is
/// published to open sockets and its next deadline handed to the timer.
struct BoardService: Sendable {
    let store: any HourglassStore
    let hub: MeetingHub
    let deadlines: DeadlineBook
    let now: @Sendable () -> Date
    /// Open notes rooms, told about new topics (each topic is a section of the notes).
    let notes: NotesRooms

    /// Applies a command and returns the meeting's board as it is afterwards.
    @discardableResult
    func execute(_ command: BoardCommand, by actor: Actor?, spaceID: UUID, meetingID: UUID) async throws -> Board {
        let changed = try await store.apply(command, by: actor, spaceID: spaceID, meetingID: meetingID, now: now())
        for board in changed { await published(board) }
        if let board = changed.first(where: { $0.meeting.id == meetingID }) { return board }
        guard let board = try await store.board(spaceID: spaceID, meetingID: meetingID) else { throw StoreError.notFound("No such meeting") }
        return board
    }

    /// Passes a committed board to the sockets, the timer and the notes room.
    private func published(_ board: Board) async {
        await hub.publish(board)
        await deadlines.set(board)
        if let room = await notes.existing(board.meeting.id) { await room.setSections(board.sectionIDs) }
    }

    /// What another instance announced (PostgreSQL NOTIFY): a board change is read from the store
    /// and published here too (this instance's own changes arrive as well and are ignored by
    /// sequence); presence is re-read; notes entries this instance has not seen are read and sent.
    func receive(_ event: PostgresFanout.Event, presence: PresenceRelay) async {
        switch event {
        case let .board(spaceID, meetingID, _):
            guard let board = try? await store.board(spaceID: spaceID, meetingID: meetingID) else { return }
            await published(board)
        case let .presence(_, meetingID, instanceID):
            if instanceID != presence.instanceID { await presence.refresh(meetingID: meetingID) }
        case let .notes(_, meetingID, seq):
            if let room = await notes.existing(meetingID), await room.seq < seq { await room.catchUpFromStore() }
        }
    }

    /// After the listener (re)connects: re-read every meeting with open sockets, every running
    /// clock and every open notes room, so nothing committed while it was away is missed.
    func catchUp() async {
        for (spaceID, meetingID) in await hub.openMeetings() {
            if let board = try? await store.board(spaceID: spaceID, meetingID: meetingID) { await hub.publish(board) }
        }
        if let pending = try? await store.pendingDeadlines() { await deadlines.load(pending) }
        for room in await notes.all() { await room.catchUpFromStore() }
    }
}

/// Deadlines of live meetings, earliest first, for the timer service.
actor DeadlineBook {
    private var deadlines: [UUID: MeetingDeadline] = [:]

    func set(_ board: Board) {
        let id = board.meeting.id
        deadlines[id] = board.nextDeadline.map { MeetingDeadline(spaceID: board.meeting.spaceID, meetingID: id, deadline: $0) }
    }

    func load(_ pending: [MeetingDeadline]) {
        for item in pending { deadlines[item.meetingID] = item }
    }

    /// Removes and returns every deadline due by `now`.
    func takeDue(_ now: Date) -> [MeetingDeadline] {
        let due = deadlines.values.filter { $0.deadline <= now }
        for item in due { deadlines[item.meetingID] = nil }
        return due
    }
}

/// Moves clocks forward: when a time box or a re-vote runs out, applies `.advance` to its meeting
/// so every client sees the re-vote open or the topic end at the same moment. Deadlines are read
/// from the store at start, so a restart mid-topic carries on where it was.
struct TimerService: Service {
    let boards: BoardService
    let interval: Duration
    let logger: Logger

    func run() async throws {
        await boards.deadlines.load(try await boards.store.pendingDeadlines())
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                for item in await boards.deadlines.takeDue(boards.now()) {
                    do {
                        try await boards.execute(.advance, by: nil, spaceID: item.spaceID, meetingID: item.meetingID)
                    } catch {
                        logger.error("Could not advance meeting clock", metadata: ["meeting": "\(item.meetingID)", "error": "\(error)"])
                    }
                }
                try await Task.sleep(for: interval)
            }
        }
    }
}
