import Foundation

/// When a series meets: a weekday and local time in an IANA time zone.
public struct Schedule: Codable, Sendable, Equatable {
    /// ISO weekday: 1 = Monday … 7 = Sunday.
    public var weekday: Int
    public var hour: Int
    public var minute: Int
    /// IANA identifier such as "America/New_York".
    public var timeZone: String
    public var durationMinutes: Int

    public init(weekday: Int, hour: Int, minute: Int, timeZone: String, durationMinutes: Int = 60) {
        self.weekday = weekday
        self.hour = hour
        self.minute = minute
        self.timeZone = timeZone
        self.durationMinutes = durationMinutes
    }

    public static let weekdayNames = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

    public func validated() throws -> Schedule {
        guard (1...7).contains(weekday) else { throw ValidationError("weekday", "must be 1 (Monday) to 7 (Sunday)") }
        guard (0...23).contains(hour), (0...59).contains(minute) else { throw ValidationError("time", "must be a time of day such as 14:00") }
        guard TimeZone(identifier: timeZone) != nil, timeZone.contains("/") || timeZone == "UTC" else {
            throw ValidationError("timeZone", "\"\(timeZone.prefix(60))\" is not an IANA time zone such as America/New_York")
        }
        guard (5...480).contains(durationMinutes) else { throw ValidationError("durationMinutes", "must be 5 to 480") }
        return self
    }

    var calendar: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: timeZone) ?? .gmt
        return calendar
    }

    /// The first occurrence that starts strictly after `date`.
    public func nextOccurrence(after date: Date) -> Occurrence {
        let calendar = calendar
        // Foundation weekday: 1 = Sunday … 7 = Saturday.
        let foundationWeekday = weekday % 7 + 1
        let components = DateComponents(hour: hour, minute: minute, second: 0, weekday: foundationWeekday)
        let start = calendar.nextDate(after: date, matching: components, matchingPolicy: .nextTime, direction: .forward)
            ?? date.addingTimeInterval(7 * 86400)
        return Occurrence(date: LocalDate(start, in: calendar.timeZone), startsAt: start)
    }

    /// The occurrence on a given local date, at the scheduled time (used for meetings added by hand).
    public func occurrence(on day: LocalDate) -> Occurrence {
        let calendar = calendar
        let start = calendar.date(from: DateComponents(year: day.year, month: day.month, day: day.day, hour: hour, minute: minute))
            ?? Date(timeIntervalSince1970: 0)
        return Occurrence(date: day, startsAt: start)
    }

    /// A one-line description, e.g. "Wednesdays 14:00 (America/New_York), 60 min".
    public var summary: String {
        let name = Schedule.weekdayNames[max(0, min(6, weekday - 1))]
        return String(format: "%@s %02d:%02d (%@), %d min", name, hour, minute, timeZone, durationMinutes)
    }
}

/// One dated occurrence of a schedule.
public struct Occurrence: Sendable, Equatable {
    public var date: LocalDate
    public var startsAt: Date
}

/// A calendar date without a time, as meetings are named ("2022-12-14").
public struct LocalDate: Codable, Sendable, Hashable, Comparable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "-")
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]),
              (1...12).contains(m), (1...31).contains(d) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        guard let date = calendar.date(from: DateComponents(year: y, month: m, day: d)),
              calendar.component(.day, from: date) == d else { return nil }
        (year, month, day) = (y, m, d)
    }

    public init(_ date: Date, in timeZone: TimeZone) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let c = calendar.dateComponents([.year, .month, .day], from: date)
        (year, month, day) = (c.year ?? 1970, c.month ?? 1, c.day ?? 1)
    }

    public var description: String { String(format: "%04d-%02d-%02d", year, month, day) }

    /// ISO weekday: 1 = Monday … 7 = Sunday.
    public var weekday: Int {
        // Sakamoto's method gives 0 = Sunday.
        let offsets = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4]
        let y = month < 3 ? year - 1 : year
        let sunday0 = (y + y / 4 - y / 100 + y / 400 + offsets[month - 1] + day) % 7
        return sunday0 == 0 ? 7 : sunday0
    }

    public static func < (lhs: LocalDate, rhs: LocalDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let date = LocalDate(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\"\(text.prefix(40))\" is not a date like 2022-12-14"))
        }
        self = date
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// How a series runs its meetings.
public struct SeriesSettings: Codable, Sendable, Equatable {
    /// Minutes of the first time box of each topic (10 or 15 in the notes).
    public var timeBoxMinutes: Int
    /// Minutes added by each successful re-vote, in order (+5, then +5).
    public var extensionSteps: [Int]
    /// Dots each participant may place per meeting.
    public var votesPerParticipant: Int
    /// Most dots one participant may place on one topic.
    public var maxVotesPerTopic: Int
    /// Intention tags topics must carry, without brackets.
    public var tags: [String]
    /// Seconds the thumbs re-vote stays open before it is counted.
    public var revoteSeconds: Int

    public static let defaultTags = ["inform", "ideation", "analysis", "quest"]

    public init(timeBoxMinutes: Int = 10, extensionSteps: [Int] = [5, 5], votesPerParticipant: Int = 3,
                maxVotesPerTopic: Int = 3, tags: [String] = SeriesSettings.defaultTags, revoteSeconds: Int = 60) {
        self.timeBoxMinutes = timeBoxMinutes
        self.extensionSteps = extensionSteps
        self.votesPerParticipant = votesPerParticipant
        self.maxVotesPerTopic = maxVotesPerTopic
        self.tags = tags
        self.revoteSeconds = revoteSeconds
    }

    public func validated() throws -> SeriesSettings {
        guard (1...120).contains(timeBoxMinutes) else { throw ValidationError("timeBoxMinutes", "must be 1 to 120 minutes") }
        guard extensionSteps.count <= 5, extensionSteps.allSatisfy({ (1...60).contains($0) }) else {
            throw ValidationError("extensionSteps", "must be at most 5 steps of 1 to 60 minutes each")
        }
        guard (1...50).contains(votesPerParticipant) else { throw ValidationError("votesPerParticipant", "must be 1 to 50") }
        guard (1...votesPerParticipant).contains(maxVotesPerTopic) else {
            throw ValidationError("maxVotesPerTopic", "must be 1 to votesPerParticipant (\(votesPerParticipant))")
        }
        guard (10...600).contains(revoteSeconds) else { throw ValidationError("revoteSeconds", "must be 10 to 600 seconds") }
        var seen = Set<String>()
        let tags = try self.tags.map(Validate.tag).filter { seen.insert($0).inserted }
        guard (1...20).contains(tags.count) else { throw ValidationError("tags", "must list 1 to 20 tags") }
        var copy = self
        copy.tags = tags
        return copy
    }
}

/// A recurring meeting of a space, e.g. the weekly Architecture Hour.
public struct Series: Codable, Sendable, Equatable, Identifiable {
    /// Slugs taken by pages of a space (`/s/SPACE/topics/…`, `/s/SPACE/people/…`, …).
    public static let reservedSlugs: Set<String> = ["members", "series", "topics", "people", "export"]

    public var id: UUID
    public var spaceID: UUID
    public var slug: String
    public var name: String
    public var description: String
    public var schedule: Schedule
    public var settings: SeriesSettings
    public var createdAt: Date

    public init(id: UUID = UUID(), spaceID: UUID, slug: String, name: String, description: String = "",
                schedule: Schedule, settings: SeriesSettings = .init(), createdAt: Date) {
        self.id = id
        self.spaceID = spaceID
        self.slug = slug
        self.name = name
        self.description = description
        self.schedule = schedule
        self.settings = settings
        self.createdAt = createdAt
    }
}

extension Series {
    /// A new upcoming meeting at the first occurrence after both `date` and `now`.
    public func newMeeting(after date: Date, now: Date) -> Meeting {
        let occurrence = schedule.nextOccurrence(after: max(date, now))
        return Meeting(seriesID: id, spaceID: spaceID, date: occurrence.date, startsAt: occurrence.startsAt)
    }
}

extension Board {
    /// Whether going from `old` to this board closed the meeting (ended or skipped), so that
    /// its undiscussed topics move to the next meeting.
    public func closesMeeting(from old: Board) -> Bool {
        old.meeting.status.isOpen && !meeting.status.isOpen
    }
}
