import Foundation
import Testing
@testable import HourglassCore

/// A board with a fixed clock, three participants and a facilitator.
struct Fixture {
    var now = Date(timeIntervalSince1970: 1_670_000_000)
    var board: Board
    let ann = Actor(userID: UUID(), name: "Ann", canFacilitate: false)
    let bob = Actor(userID: UUID(), name: "Bob", canFacilitate: false)
    let cat = Actor(userID: UUID(), name: "Cat", canFacilitate: false)
    let fac = Actor(userID: UUID(), name: "Fay", canFacilitate: true)

    init(settings: SeriesSettings = .init()) {
        let meeting = Meeting(seriesID: UUID(), spaceID: UUID(), date: LocalDate("2022-12-14")!, startsAt: now)
        board = Board(meeting: meeting, settings: settings)
    }

    mutating func run(_ command: BoardCommand, by actor: Actor?) throws {
        board = try board.apply(command, by: actor, at: now)
    }

    mutating func propose(_ title: String, tag: String = "quest", by actor: Actor? = nil) throws -> UUID {
        try run(.propose(tag: tag, title: title, description: ""), by: actor ?? ann)
        now += 1
        return board.topics.last!.id
    }

    mutating func wait(_ seconds: TimeInterval) { now += seconds }

    mutating func tick() throws { try run(.advance, by: nil) }
}

func expectBoardError(_ kind: BoardError.Kind, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected a \(kind) error")
    } catch let error as BoardError {
        #expect(error.kind == kind, "\(error.message)")
    } catch {
        Issue.record("unexpected error \(error)")
    }
}

@Suite struct ProposingTests {
    @Test func proposerAndTagAreRecorded() throws {
        var f = Fixture()
        let id = try f.propose("  How do we version events?  ", tag: "[Quest]", by: f.bob)
        let topic = try #require(f.board.topic(id))
        #expect(topic.title == "How do we version events?")
        #expect(topic.tag == "quest")
        #expect(topic.proposerID == f.bob.userID)
        #expect(topic.proposerName == "Bob")
        #expect(topic.status == .queued)
    }

    @Test func rejectsUnknownTagsEmptyAndHugeTitles() throws {
        var f = Fixture()
        expectBoardError(.invalid) { _ = try f.propose("x", tag: "rant") }
        expectBoardError(.invalid) { _ = try f.propose("   ") }
        expectBoardError(.invalid) { _ = try f.propose(String(repeating: "a", count: 10_000_000)) }
        expectBoardError(.invalid) { _ = try f.propose("bell\u{7}") }
        #expect(f.board.topics.isEmpty)
    }

    @Test func tagsAreConfigurable() throws {
        var f = Fixture(settings: SeriesSettings(tags: ["discuss", "todo"]))
        _ = try f.propose("Town square", tag: "discuss")
        expectBoardError(.invalid) { _ = try f.propose("x", tag: "quest") }
    }

    @Test func signedOutCannotAct() {
        let f = Fixture()
        expectBoardError(.forbidden) { _ = try f.board.apply(.propose(tag: "quest", title: "t", description: ""), by: nil, at: f.now) }
    }
}

@Suite struct VotingTests {
    @Test func budgetAndPerTopicCap() throws {
        var f = Fixture(settings: SeriesSettings(votesPerParticipant: 3, maxVotesPerTopic: 2))
        let a = try f.propose("A")
        let b = try f.propose("B")
        try f.run(.vote(topicID: a), by: f.bob)
        try f.run(.vote(topicID: a), by: f.bob)
        expectBoardError(.conflict) { try f.run(.vote(topicID: a), by: f.bob) } // cap 2 per topic
        try f.run(.vote(topicID: b), by: f.bob)
        expectBoardError(.conflict) { try f.run(.vote(topicID: b), by: f.bob) } // budget 3 used
        #expect(f.board.votes(by: f.bob.userID) == 3)
        try f.run(.unvote(topicID: a), by: f.bob)
        try f.run(.vote(topicID: b), by: f.bob)
        #expect(f.board.votes(by: f.bob.userID, on: a) == 1)
        #expect(f.board.votes(by: f.bob.userID, on: b) == 2)
    }

    @Test func cannotTakeBackAVoteYouDidNotCast() throws {
        var f = Fixture()
        let a = try f.propose("A")
        expectBoardError(.conflict) { try f.run(.unvote(topicID: a), by: f.cat) }
        expectBoardError(.notFound) { try f.run(.vote(topicID: UUID()), by: f.cat) }
    }

    @Test func agendaOrdersByVotesThenEarlierProposal() throws {
        var f = Fixture()
        let first = try f.propose("first")
        let second = try f.propose("second")
        let third = try f.propose("third")
        #expect(f.board.agenda.map(\.id) == [first, second, third])
        try f.run(.vote(topicID: third), by: f.bob)
        try f.run(.vote(topicID: second), by: f.cat)
        // second and third tie at one vote: the earlier proposal wins
        #expect(f.board.agenda.map(\.id) == [second, third, first])
        try f.run(.vote(topicID: third), by: f.cat)
        #expect(f.board.agenda.map(\.id) == [third, second, first])
    }

    @Test func noVotingOnEndedMeetings() throws {
        var f = Fixture()
        let a = try f.propose("A")
        try f.run(.endMeeting, by: f.fac)
        expectBoardError(.conflict) { try f.run(.vote(topicID: a), by: f.bob) }
        expectBoardError(.conflict) { _ = try f.propose("late") }
    }

    @Test func withdrawingRemovesTheTopicAndItsVotes() throws {
        var f = Fixture()
        let a = try f.propose("A", by: f.ann)
        try f.run(.vote(topicID: a), by: f.bob)
        expectBoardError(.forbidden) { try f.run(.withdraw(topicID: a), by: f.bob) }
        try f.run(.withdraw(topicID: a), by: f.ann)
        #expect(f.board.agenda.isEmpty)
        #expect(f.board.votes(by: f.bob.userID) == 0)
        expectBoardError(.notFound) { try f.run(.vote(topicID: a), by: f.bob) }
    }
}

@Suite struct TimeBoxTests {
    @Test func startTopicTakesTheTopOfTheAgendaAndSetsTheDeadline() throws {
        var f = Fixture(settings: SeriesSettings(timeBoxMinutes: 15))
        _ = try f.propose("A")
        let b = try f.propose("B")
        try f.run(.vote(topicID: b), by: f.bob)
        expectBoardError(.forbidden) { try f.run(.startTopic(topicID: nil), by: f.bob) }
        try f.run(.startTopic(topicID: nil), by: f.fac)
        #expect(f.board.meeting.status == .live)
        #expect(f.board.currentTopic?.id == b)
        #expect(f.board.meeting.timeBox?.deadline == f.now + 15 * 60)
        #expect(f.board.meeting.timeBox?.phase == .discussing)
        expectBoardError(.conflict) { try f.run(.startTopic(topicID: nil), by: f.fac) }
    }

    @Test func majorityUpExtendsByEachStepThenTheTopicEnds() throws {
        var f = Fixture(settings: SeriesSettings(timeBoxMinutes: 10, extensionSteps: [5, 5], revoteSeconds: 60))
        let a = try f.propose("A")
        try f.run(.startTopic(topicID: a), by: f.fac)
        let started = f.now
        expectBoardError(.conflict) { try f.run(.revote(.up), by: f.bob) } // not in re-vote yet
        f.wait(600)
        try f.tick()
        #expect(f.board.meeting.timeBox?.phase == .revote)
        try f.run(.revote(.up), by: f.bob)
        try f.run(.revote(.sideways), by: f.cat)
        try f.run(.revote(.up), by: f.ann)
        try f.run(.revote(.down), by: f.ann) // a participant may change their thumb
        #expect(f.board.meeting.timeBox?.tally == Tally(up: 1, sideways: 1, down: 1))
        try f.run(.revote(.up), by: f.ann)
        f.wait(60)
        try f.tick()
        #expect(f.board.meeting.timeBox?.phase == .discussing)
        #expect(f.board.meeting.timeBox?.deadline == started + 660 + 300)
        #expect(f.board.topic(a)?.extensionsUsed == 1)
        // second re-vote, closed early by the facilitator
        f.wait(300)
        try f.run(.revote(.up), by: f.bob)
        try f.run(.closeRevote, by: f.fac)
        #expect(f.board.topic(a)?.extensionsUsed == 2)
        // both steps used: the time box ends the topic without a re-vote
        f.wait(300)
        try f.tick()
        #expect(f.board.meeting.timeBox == nil)
        #expect(f.board.topic(a)?.status == .done)
        #expect(f.board.topic(a)?.discussedSeconds == 600 + 60 + 300 + 300)
    }

    @Test func sidewaysIsNeitherAndTiesEnd() {
        #expect(Tally(up: 1, sideways: 5, down: 0).extends)
        #expect(!Tally(up: 2, sideways: 0, down: 2).extends)
        #expect(!Tally().extends)
        #expect(!Tally(up: 0, sideways: 3, down: 0).extends)
    }

    @Test func anUnansweredRevoteEndsTheTopic() throws {
        var f = Fixture()
        let a = try f.propose("A")
        try f.run(.startTopic(topicID: a), by: f.fac)
        f.wait(10 * 60 + 60) // time box, then the whole re-vote window, with no thumbs
        try f.tick()
        #expect(f.board.topic(a)?.status == .done)
        #expect(f.board.meeting.timeBox == nil)
    }

    @Test func oneLateTickCatchesUpEveryTransition() throws {
        // e.g. a server that was down across the deadline and the re-vote window
        var f = Fixture()
        let a = try f.propose("A")
        try f.run(.startTopic(topicID: a), by: f.fac)
        f.wait(3600)
        try f.tick()
        #expect(f.board.topic(a)?.status == .done)
        #expect(f.board.topic(a)?.endedAt == f.board.topic(a)!.startedAt! + 660)
    }

    @Test func facilitatorEndsEarlyOrExtendsByHand() throws {
        var f = Fixture(settings: SeriesSettings(timeBoxMinutes: 10, extensionSteps: [5]))
        let a = try f.propose("A")
        let b = try f.propose("B")
        try f.run(.startTopic(topicID: a), by: f.fac)
        let deadline = f.board.meeting.timeBox!.deadline
        expectBoardError(.forbidden) { try f.run(.extend, by: f.bob) }
        try f.run(.extend, by: f.fac)
        #expect(f.board.meeting.timeBox?.deadline == deadline + 300)
        try f.run(.extend, by: f.fac) // beyond the configured steps: by hand, the last step again
        #expect(f.board.meeting.timeBox?.deadline == deadline + 600)
        f.wait(120)
        try f.run(.endTopic, by: f.fac)
        #expect(f.board.topic(a)?.status == .done)
        #expect(f.board.topic(a)?.discussedSeconds == 120)
        try f.run(.startTopic(topicID: nil), by: f.fac)
        #expect(f.board.currentTopic?.id == b)
        #expect(f.board.topic(b)?.discussionOrder == 2)
        #expect(f.board.discussed.map(\.id) == [a])
    }

    @Test func revoteOutsideARevoteIsRefused() throws {
        var f = Fixture()
        expectBoardError(.conflict) { try f.run(.revote(.up), by: f.bob) }
        expectBoardError(.conflict) { try f.run(.closeRevote, by: f.fac) }
        expectBoardError(.conflict) { try f.run(.endTopic, by: f.fac) }
    }
}

@Suite struct MeetingLifecycleTests {
    @Test func carryOverMovesUndiscussedTopicsWithTheirVoteHistory() throws {
        var f = Fixture()
        let done = try f.propose("discussed")
        let left = try f.propose("left over", by: f.bob)
        try f.run(.vote(topicID: left), by: f.ann)
        try f.run(.vote(topicID: left), by: f.cat)
        try f.run(.startTopic(topicID: done), by: f.fac)
        try f.run(.endMeeting, by: f.fac)
        #expect(f.board.meeting.status == .ended)
        #expect(f.board.topic(done)?.status == .done)

        let nextMeeting = Meeting(seriesID: f.board.meeting.seriesID, spaceID: f.board.meeting.spaceID,
                                  date: LocalDate("2022-12-21")!, startsAt: f.now + 7 * 86400)
        let (from, into) = f.board.carryOver(into: Board(meeting: nextMeeting, settings: f.board.settings), at: f.now)
        #expect(from.topic(left)?.status == .carriedOver)
        let carried = try #require(into.topics.first)
        #expect(into.topics.count == 1)
        #expect(carried.title == "left over")
        #expect(carried.proposerID == f.bob.userID)
        #expect(carried.carriedFromID == left)
        #expect(from.topic(left)?.carriedToID == carried.id)
        #expect(carried.voteHistory == [VoteHistory(meetingDate: LocalDate("2022-12-14")!, votes: 2)])
        #expect(into.votes.isEmpty) // a fresh budget in the next meeting
    }

    @Test func skipNeedsAReasonAndAnUpcomingMeeting() throws {
        var f = Fixture()
        expectBoardError(.invalid) { try f.run(.skip(reason: "  "), by: f.fac) }
        expectBoardError(.forbidden) { try f.run(.skip(reason: "x"), by: f.bob) }
        try f.run(.skip(reason: "Low attendance due to Thanksgiving-related PTO"), by: f.fac)
        #expect(f.board.meeting.status == .skipped)
        #expect(f.board.meeting.skipReason == "Low attendance due to Thanksgiving-related PTO")
        expectBoardError(.conflict) { try f.run(.startMeeting, by: f.fac) }
    }

    @Test func failedCommandsChangeNothing() throws {
        var f = Fixture()
        let a = try f.propose("A")
        let before = f.board
        expectBoardError(.conflict) { try f.run(.unvote(topicID: a), by: f.bob) }
        #expect(f.board == before)
    }
}

@Suite struct CommandFieldTests {
    @Test func parsesEveryClientCommand() throws {
        let id = UUID()
        #expect(try BoardCommand(fields: ["type": "vote", "topicId": id.uuidString]) == .vote(topicID: id))
        #expect(try BoardCommand(fields: ["type": "propose", "tag": "quest", "title": "t"]) == .propose(tag: "quest", title: "t", description: ""))
        #expect(try BoardCommand(fields: ["type": "startTopic", "topicId": ""]) == .startTopic(topicID: nil))
        #expect(try BoardCommand(fields: ["type": "revote", "thumb": "sideways"]) == .revote(.sideways))
        for type in BoardCommand.clientTypes {
            let fields = ["type": type, "topicId": id.uuidString, "tag": "quest", "title": "t", "thumb": "up", "reason": "r"]
            #expect(try BoardCommand(fields: fields).name == type)
        }
    }

    @Test func explainsBadFields() {
        expectBoardError(.invalid) { _ = try BoardCommand(fields: [:]) }
        expectBoardError(.invalid) { _ = try BoardCommand(fields: ["type": "advance"]) }
        expectBoardError(.invalid) { _ = try BoardCommand(fields: ["type": "vote"]) }
        expectBoardError(.invalid) { _ = try BoardCommand(fields: ["type": "vote", "topicId": "'; DROP TABLE topics"]) }
        expectBoardError(.invalid) { _ = try BoardCommand(fields: ["type": "revote", "thumb": "left"]) }
    }
}
