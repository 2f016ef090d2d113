import Foundation
import Testing
@testable import HourglassCore

/// The real notes page in Tests/fixtures (a copy of ../shared/corpus).
enum Corpus {
    static let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../fixtures/arch-hour-notes-2022-h2.txt").standardized
    static var text: String { try! String(contentsOf: url, encoding: .utf8) }
}

@Suite struct ArchiveTextTests {
    @Test func readsEveryMeetingOfTheCorpus() throws {
        let archive = try ArchiveText.parse(Corpus.text)
        let dates = archive.meetings.map(\.date.description)
        #expect(dates.count == 22)
        #expect(dates.first == "2022-12-14" && dates.last == "2022-07-06")
        #expect(archive.preface.hasPrefix("Meeting Expectations\nWhy?"))
        #expect(archive.preface.contains("[quest] You are seeking information/responses to a question you have."))

        let skipped = try #require(archive.meetings.first { $0.date.description == "2022-10-26" })
        #expect(skipped.skipReason == "Skipped due to low attendance" && skipped.topics.isEmpty)
        let thanksgiving = try #require(archive.meetings.first { $0.date.description == "2022-11-23" })
        #expect(thanksgiving.skipReason == nil && thanksgiving.notes.map(\.text).first?.hasPrefix("Low attendance") == true)

        // Tag-style meeting: tagged lines are topics, [Person] lines are their notes.
        let oct5 = try #require(archive.meetings.first { $0.date.description == "2022-10-05" })
        let hacktoberfest = try #require(oct5.topics.first { $0.title.hasPrefix("Hacktoberfest") })
        #expect(hacktoberfest.tag == "quest" && hacktoberfest.proposer == "Jeremy")
        #expect(hacktoberfest.bullets.map(\.text).contains("[Ned] We have enough problems with our contribution pipeline as is, may not be a great idea to pile more into the backlog"))
        #expect(oct5.topics.contains { $0.tag == "discuss" && $0.proposer == "Diana" })
        #expect(oct5.topics.contains { $0.tag == "inform" && $0.proposer == "Jeremy" && $0.title == "Arch-BOM -> Developer Experience" })

        // Person-style meeting: every [Person] line is a topic.
        let dec14 = try #require(archive.meetings.first)
        #expect(dec14.topics.map(\.proposer) == ["Feanil/Ned", "Feanil", "Andy"])
        #expect(dec14.topics[2].bullets.map(\.text) == ["Unique identifiers", "PII sharing"])

        // A label before the proposer stays in the title; [todo] lines stay notes.
        let dec7 = try #require(archive.meetings.first { $0.date.description == "2022-12-07" })
        #expect(dec7.topics[0].tag == "discuss" && dec7.topics[0].proposer == "Ned" && dec7.topics[0].title.hasPrefix("[2U internal] Brainstorm"))
        #expect(dec7.topics.flatMap(\.bullets).contains { $0.text == "[todo] Add sre@edx.org to some announcements" })

        // Long bracketed asides are not markers.
        let aug17 = try #require(archive.meetings.first { $0.date.description == "2022-08-17" })
        #expect(!aug17.topics.contains { $0.proposer.hasPrefix("Unstructured") })
        #expect(archive.topicCount > 90 && archive.bulletCount > 200)
    }

    @Test func markdownKeepsNestingVotesAndHeadings() throws {
        let text = """
        # Platform sync

        We meet weekly.

        ## 2023-03-08

        - Attendance: 12
        ### ** [quest] (Ann) How do we version events?
        > Kafka schemas
        - First point
          - nested under it
            - deeper
        - Second point
        ## 2023-03-01
        - *** [inform] (Bo) Bulleted topic
          - its note
        - Cancelled: holiday
        """
        let archive = try ArchiveText.parse(text)
        #expect(archive.preface == "We meet weekly.")
        #expect(archive.meetings.count == 2)
        let first = archive.meetings[0]
        #expect(first.notes.map(\.text) == ["Attendance: 12"])
        #expect(first.topics.count == 1)
        let topic = first.topics[0]
        #expect(topic.votes == 2 && topic.tag == "quest" && topic.proposer == "Ann" && topic.title == "How do we version events?")
        #expect(topic.description == "Kafka schemas")
        #expect(topic.bullets.map(\.text) == ["First point", "Second point"])
        #expect(topic.bullets[0].children.map(\.text) == ["nested under it"])
        #expect(topic.bullets[0].children[0].children.map(\.text) == ["deeper"])
        let second = archive.meetings[1]
        #expect(second.topics.map(\.votes) == [3])
        #expect(second.topics[0].bullets.map(\.text) == ["its note", "Cancelled: holiday"])
    }

    @Test func exportedMarkdownReadsBackToTheSameStructure() throws {
        let archive = try ArchiveText.parse(Corpus.text)
        let meetings = try archive.meetings.map(Self.archived)
        let markdown = ArchiveExport.markdown(title: "Arch Hour", description: archive.preface, meetings: meetings)
        let again = try ArchiveText.parse(markdown)
        #expect(again.preface == archive.preface)
        #expect(again.meetings.count == archive.meetings.count)
        for (a, b) in zip(archive.meetings, again.meetings) {
            #expect(a.date == b.date && a.skipReason == b.skipReason)
            #expect(Self.shape(a.notes) == Self.shape(b.notes))
            #expect(a.topics.map { [$0.tag, $0.title, $0.proposer, String($0.votes), $0.description] }
                    == b.topics.map { [$0.tag, $0.title, $0.proposer, String($0.votes), $0.description] })
            #expect(a.topics.map { Self.shape($0.bullets) } == b.topics.map { Self.shape($0.bullets) })
        }
        // and a second round gives byte-identical Markdown
        let twice = ArchiveExport.markdown(title: "Arch Hour", description: again.preface, meetings: try again.meetings.map(Self.archived))
        #expect(twice == markdown)
    }

    @Test func badFilesGetErrorsThatNameTheLine() throws {
        #expect(throws: ArchiveImportError(line: 3, "2022-13-45 is not a calendar date")) {
            try ArchiveText.parse("preface\n2022-12-14\n2022-13-45\n[quest] (A) x")
        }
        #expect(throws: ArchiveImportError(line: 4, "2022-12-14 appears twice (also on line 1); merge the two meetings first")) {
            try ArchiveText.parse("2022-12-14\n[quest] (A) x\n\n2022-12-14\n")
        }
        #expect(throws: ArchiveImportError.self) { try ArchiveText.parse("no dates here\nat all") }
        #expect(throws: ArchiveImportError.self) { try ArchiveText.parse("") }
        let long = "2022-12-14\n" + String(repeating: "x", count: ArchiveText.maxLineLength + 1)
        #expect(throws: ArchiveImportError(line: 2, "is \(ArchiveText.maxLineLength + 1) characters long; a line can have at most \(ArchiveText.maxLineLength)")) {
            try ArchiveText.parse(long)
        }
        var bytes = Data("2022-12-14\n[quest] ok\n".utf8)
        bytes.append(contentsOf: [0x66, 0xFF, 0xFE, 0x0A])
        #expect(throws: ArchiveImportError(line: 3, "is not UTF-8 text")) { try ArchiveText.parse(bytes) }
        #expect(throws: ArchiveImportError(line: 2, "contains a NUL byte; this does not look like a text file")) {
            try ArchiveText.parse("2022-12-14\nA\u{0}B")
        }
        // Hostile but readable text is kept as text.
        let hostile = try ArchiveText.parse("2022-12-14\n[quest] (<script>) <img src=x onerror=alert(1)>\n\"; DROP TABLE topics; --")
        #expect(hostile.meetings[0].topics[0].title == "<img src=x onerror=alert(1)>")
        #expect(hostile.meetings[0].topics[0].bullets[0].text == "\"; DROP TABLE topics; --")
    }

    @Test func randomLinesNeverCrashTheReader() throws {
        var rng = SystemRandomNumberGenerator()
        let pieces = ["[", "]", "(", ")", "*", "+", "#", "-", " ", "  ", "\t", "2022-12-14", "[quest]", "(Ann)", "é", "🙂", "\\", ">", "\n", "1. "]
        for _ in 0..<300 {
            let text = "2022-01-05\n" + (0..<Int.random(in: 0...60, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
            if let archive = try? ArchiveText.parse(text) {
                #expect(!archive.meetings.isEmpty)
            }
        }
    }

    // MARK: Helpers

    static func shape(_ bullets: [ImportedBullet]) -> [String] {
        bullets.flatMap { [$0.text] + shape($0.children).map { "  " + $0 } }
    }

    /// An imported meeting as a board and notes, the way the store would hold it.
    static func archived(_ imported: ImportedMeeting) throws -> ArchivedMeeting {
        let series = UUID()
        var meeting = Meeting(seriesID: series, spaceID: UUID(), date: imported.date, startsAt: Date(timeIntervalSince1970: 0),
                              status: imported.skipReason == nil ? .ended : .skipped, skipReason: imported.skipReason)
        meeting.id = UUID()
        let topics = imported.topics.enumerated().map { index, t in
            Topic(meetingID: meeting.id, tag: t.tag, title: t.title, description: t.description, proposerID: nil, proposerName: t.proposer,
                  proposedAt: Date(timeIntervalSince1970: 0), status: .done, discussionOrder: index + 1, recordedVotes: t.votes)
        }
        var bullets: [Bullet] = []
        func add(_ forest: [ImportedBullet], parent: String) throws {
            var previous: String?
            for b in forest {
                let order = try OrderKey.between(previous, nil)
                previous = order
                let id = "b\(bullets.count)"
                bullets.append(Bullet(id: id, parent: parent, order: order, text: b.text))
                try add(b.children, parent: id)
            }
        }
        try add(imported.notes, parent: NotesDocument.meetingSection)
        for (topic, t) in zip(topics, imported.topics) { try add(t.bullets, parent: topic.id.uuidString.lowercased()) }
        let board = Board(meeting: meeting, settings: SeriesSettings(), topics: topics)
        return ArchivedMeeting(board: board, notes: NotesDocument(sections: Set(topics.map { $0.id.uuidString.lowercased() }), bullets: bullets))
    }
}
