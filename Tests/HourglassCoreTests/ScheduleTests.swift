import Foundation
import Testing
@testable import HourglassCore

@Suite struct ScheduleTests {
    @Test func nextOccurrenceIsInTheSeriesTimeZone() throws {
        // Wednesdays 14:00 in New York; 2022-12-12 is a Monday.
        let schedule = try Schedule(weekday: 3, hour: 14, minute: 0, timeZone: "America/New_York").validated()
        let monday = ISO8601DateFormatter().date(from: "2022-12-12T12:00:00Z")!
        let next = schedule.nextOccurrence(after: monday)
        #expect(next.date.description == "2022-12-14")
        #expect(next.startsAt == ISO8601DateFormatter().date(from: "2022-12-14T19:00:00Z")!)
        let after = schedule.nextOccurrence(after: next.startsAt)
        #expect(after.date.description == "2022-12-21")
    }

    @Test func followsDaylightSavingTime() throws {
        let schedule = try Schedule(weekday: 3, hour: 14, minute: 0, timeZone: "America/New_York").validated()
        let july = schedule.nextOccurrence(after: ISO8601DateFormatter().date(from: "2022-07-01T00:00:00Z")!)
        #expect(july.startsAt == ISO8601DateFormatter().date(from: "2022-07-06T18:00:00Z")!)
    }

    @Test func rejectsBadSchedules() {
        #expect(throws: ValidationError.self) { try Schedule(weekday: 8, hour: 1, minute: 0, timeZone: "UTC").validated() }
        #expect(throws: ValidationError.self) { try Schedule(weekday: 1, hour: 24, minute: 0, timeZone: "UTC").validated() }
        #expect(throws: ValidationError.self) { try Schedule(weekday: 1, hour: 9, minute: 0, timeZone: "Mars/Olympus").validated() }
    }

    @Test func localDatesParseStrictly() {
        #expect(LocalDate("2022-12-14")?.description == "2022-12-14")
        #expect(LocalDate("2022-02-30") == nil)
        #expect(LocalDate("2022-12-1") == nil)
        #expect(LocalDate("tomorrow") == nil)
        #expect(LocalDate("2022-12-07")! < LocalDate("2022-12-14")!)
    }

    @Test func settingsValidation() throws {
        #expect(try SeriesSettings(tags: ["[Inform]", "quest", "quest"]).validated().tags == ["inform", "quest"])
        #expect(throws: ValidationError.self) { try SeriesSettings(votesPerParticipant: 3, maxVotesPerTopic: 4).validated() }
        #expect(throws: ValidationError.self) { try SeriesSettings(tags: []).validated() }
        #expect(throws: ValidationError.self) { try SeriesSettings(tags: ["<script>"]).validated() }
        #expect(throws: ValidationError.self) { try SeriesSettings(timeBoxMinutes: 0).validated() }
    }
}

@Suite struct ValidationTests {
    @Test func slugs() throws {
        #expect(try Validate.slug("arch-hour") == "arch-hour")
        #expect(Validate.slugify("Architecture Hour!") == "architecture-hour")
        #expect(Validate.slugify("Café — Ünïcode") == "cafe-unicode")
        for bad in ["a", "-x", "x-", "a--b", "../etc", "with space", String(repeating: "a", count: 41)] {
            #expect(throws: ValidationError.self) { try Validate.slug(bad) }
        }
    }

    @Test func emails() throws {
        #expect(try Validate.email(" Ann@Example.COM ") == "ann@example.com")
        for bad in ["", "ann", "ann@", "@x.org", "ann@localhost", "a b@x.org"] {
            #expect(throws: ValidationError.self) { try Validate.email(bad) }
        }
    }

    @Test func access() {
        let now = Date()
        let open = Space(slug: "open", name: "Open", visibility: .public, createdAt: now)
        let closed = Space(slug: "closed", name: "Closed", visibility: .private, createdAt: now)
        let user = User(email: "a@b.co", name: "A", createdAt: now)
        #expect(SpaceAccess.resolve(space: open, user: nil, membership: nil) != nil)
        #expect(SpaceAccess.resolve(space: closed, user: nil, membership: nil) == nil)
        #expect(SpaceAccess.resolve(space: closed, user: user, membership: nil) == nil)
        let member = Membership(spaceID: closed.id, userID: user.id, role: .member)
        let access = SpaceAccess.resolve(space: closed, user: user, membership: member)
        #expect(access?.canFacilitate == false)
        #expect(access?.canParticipate(signedIn: true) == true)
        #expect(SpaceAccess.resolve(space: open, user: nil, membership: nil)?.canParticipate(signedIn: false) == false)
    }
}

@Suite struct SearchTermsTests {
    @Test func readsWordsPhrasesAndPrefixes() {
        let terms = SearchTerms("Event* \"event bus\" (kafka) NEAR: x-y")
        #expect(terms.fts5 == "\"event\"* \"event bus\" \"kafka\" \"near\" \"x\" \"y\"")
        #expect(terms.tsquery == "event:* & (event <-> bus) & kafka & near & x & y")
    }

    @Test func hostileInputBecomesPlainTerms() {
        #expect(SearchTerms("\"").isEmpty)
        #expect(SearchTerms("*** ((( )))").isEmpty)
        #expect(SearchTerms("'; DROP TABLE topics; --").fts5 == "\"drop\" \"table\" \"topics\"")
        #expect(SearchTerms(String(repeating: "word ", count: 5000)).terms == [.word("word", prefix: false)])  // repeats collapse
        #expect(SearchTerms((0..<500).map { "w\($0)" }.joined(separator: " ")).terms.count == SearchTerms.maxTerms)
        #expect(SearchTerms("\"unbalanced phrase").terms == [.phrase(["unbalanced", "phrase"])])
    }

    @Test func snippetsMarkMatchesAroundTheFirstOne() {
        let terms = SearchTerms("kafka sche*")
        let text = "Long preamble with many words that come first before anything relevant shows up: we moved Kafka schemas to the registry, and Kafka clients followed"
        let snippet = terms.snippet(of: text, words: 10)
        #expect(snippet.hasPrefix("…") && snippet.hasSuffix("…"))
        #expect(snippet.contains("\(SearchHit.markStart)Kafka\(SearchHit.markEnd) \(SearchHit.markStart)schemas\(SearchHit.markEnd)"))
        #expect(SearchTerms("cafe").snippet(of: "Café au lait") == "\(SearchHit.markStart)Café\(SearchHit.markEnd) au lait")
        #expect(SearchTerms("x").snippet(of: "") == "")
    }
}
