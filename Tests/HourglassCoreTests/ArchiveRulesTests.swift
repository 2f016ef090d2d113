import Foundation
import Testing
@testable import HourglassCore

@Suite struct ActionItemTests {
    @Test func markersOwnersDatesAndLinks() throws {
        let item = try #require(ActionItem(text: "[todo] @ann.lee update the ADR due 2023-01-15 https://example.org/adr/12."))
        #expect(item.status == .open && item.owner == "ann.lee" && item.due == LocalDate("2023-01-15"))
        #expect(item.link == "https://example.org/adr/12" && item.text.hasPrefix("@ann.lee update"))
        let action = try #require(ActionItem(text: "  ACTION: (Bo Chen) file a ticket by 2024-02-29"))
        #expect(action.status == .open && action.owner == "Bo Chen" && action.due == LocalDate("2024-02-29") && action.link == nil)
        #expect(ActionItem(text: "[done] shipped it")?.status == .done)
        #expect(ActionItem(text: "[Action] [Ned] check")?.owner == "Ned")
        #expect(ActionItem(text: "todo later") == nil)
        #expect(ActionItem(text: "[idea] use blogs") == nil)
        #expect(ActionItem(text: "[todo] due 2023-02-30")?.due == nil)  // not a date: no due date, still an item
        #expect(item.isOwned(by: "Ann Lee") && !item.isOwned(by: "Ann Smith"))
        #expect(ActionItem(text: "[todo] @ann check")!.isOwned(by: "Ann Lee"))
        #expect(ActionItem(text: "[done] @ana.action write the ADR due 2031-05-01")!.isOwned(by: "Ana Action"))
    }

    /// The same cases as Tests/js/action.test.mjs, so the editor's Ctrl+Enter and the server agree.
    @Test func togglingCyclesThroughTheStates() {
        #expect(ActionItem.toggled("write it up") == "[todo] write it up")
        #expect(ActionItem.toggled("[todo] write it up") == "[done] write it up")
        #expect(ActionItem.toggled("ACTION: write it up") == "[done] write it up")
        #expect(ActionItem.toggled("[done] write it up") == "write it up")
        #expect(ActionItem.toggled("") == "[todo] ")
    }
}

@Suite struct TopicHistoryTests {
    static func ref(_ title: String, by proposer: String, on date: String, description: String = "") -> TopicRef {
        TopicRef(topic: Topic(meetingID: UUID(), tag: "quest", title: title, description: description, proposerID: nil,
                              proposerName: proposer, proposedAt: Date(timeIntervalSince1970: 0)),
                 seriesID: UUID(), meetingDate: LocalDate(date)!)
    }

    @Test func findsTopicsSharingDistinctiveWordsOrProposerAndTitle() {
        let bus = Self.ref("How should we version the event bus schemas?", by: "Jeremy", on: "2022-06-15")
        var all = [bus,
                   Self.ref("Event bus: first consumers", by: "Dave", on: "2022-03-09"),
                   Self.ref("Versioning event bus schemas, again", by: "Jeremy", on: "2022-10-05"),
                   Self.ref("Hacktoberfest participation", by: "Jeremy", on: "2022-10-05")]
        // Filler topics make "event" and "bus" rare (distinctive) and "team" common.
        for i in 0..<30 { all.append(Self.ref("Team update \(i) on roadmap item \(i)", by: "Ned", on: "2022-01-0\(i % 9 + 1)")) }
        let related = TopicHistory.related(to: bus, among: all)
        #expect(related.map(\.ref.meetingDate.description) == ["2022-10-05", "2022-03-09"])
        #expect(related[0].sharedWords.contains("bus"))
        #expect(!related.contains { $0.ref.topic.id == bus.topic.id })
        #expect(TopicHistory.related(to: all[3], among: all).isEmpty)
        #expect(TopicHistory.words("See https://example.org/event-bus and THE Bus!") == ["bus"])
    }
}

@Suite struct NotesHistoryTests {
    static let t0 = Date(timeIntervalSince1970: 1_700_000_000)

    static func op(_ build: (inout TextOperation) -> Void) -> TextOperation {
        var op = TextOperation()
        build(&op)
        return op
    }

    @Test func revisionsGroupAPersonsTypingAndShowTheDiff() throws {
        let ann = UUID(), bo = UUID()
        func entry(_ seq: Int, _ user: UUID?, _ change: NoteChange, after seconds: Double) -> NoteEntry {
            NoteEntry(seq: seq, client: "c", clientSeq: seq, userID: user, change: change, at: Self.t0 + seconds)
        }
        let entries = [
            entry(1, ann, .create(bullet: "b", parent: "meeting", order: "V", text: "We use Kafka"), after: 0),
            entry(2, ann, .text(bullet: "b", rev: 0, op: Self.op { $0.retain(12); $0.insert(" today") }), after: 5),
            entry(3, bo, .text(bullet: "b", rev: 1, op: Self.op { $0.retain(7); $0.delete(5); $0.insert("Pulsar"); $0.retain(6) }), after: 600),
            entry(4, bo, .delete(bullet: "b"), after: 700),
            entry(5, nil, .text(bullet: "imported", rev: 0, op: Self.op { $0.retain(3); $0.insert("!") }), after: 800),
        ]
        let revisions = NotesHistory.revisions(entries)
        #expect(revisions.map(\.kind) == [.edited, .deleted, .edited, .created])
        let created = revisions[3]
        #expect(created.userID == ann && created.after == "We use Kafka today" && created.before == nil && created.lastSeq == 2)
        let edit = revisions[2]
        #expect(edit.userID == bo && edit.before == "We use Kafka today" && edit.after == "We use Pulsar today")
        #expect(WordDiff.plain(WordDiff.diff(edit.before!, edit.after)) == "We use [-Kafka-]{+Pulsar+} today")
        #expect(revisions[0].before == nil)  // text the log does not hold: no diff, no crash
    }

    static func side(_ piece: WordDiff.Piece, old: Bool) -> String {
        switch piece {
        case let .same(text): text
        case let .added(text): old ? "" : text
        case let .removed(text): old ? text : ""
        }
    }

    @Test func wordDiffRebuildsBothTexts() {
        var rng = SystemRandomNumberGenerator()
        let words = ["a", "bus", "event", "  ", " ", "🙂", "schema", "\n"]
        for _ in 0..<200 {
            let a = (0..<Int.random(in: 0...20, using: &rng)).map { _ in words.randomElement(using: &rng)! }.joined(separator: " ")
            let b = (0..<Int.random(in: 0...20, using: &rng)).map { _ in words.randomElement(using: &rng)! }.joined(separator: " ")
            let pieces = WordDiff.diff(a, b)
            #expect(pieces.map { Self.side($0, old: true) }.joined() == a)
            #expect(pieces.map { Self.side($0, old: false) }.joined() == b)
        }
    }
}
