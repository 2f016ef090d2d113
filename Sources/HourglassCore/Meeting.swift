import Foundation

/// Where a meeting is in its life.
public enum MeetingStatus: String, Codable, Sendable, CaseIterable {
    /// Collecting topics and votes.
    case upcoming
    case live
    case ended
    /// Did not happen; `Meeting.skipReason` says why.
    case skipped

    /// Topics may be proposed and voted on only before and during the meeting.
    public var isOpen: Bool { self == .upcoming || self == .live }
}

/// One dated occurrence of a series.
public struct Meeting: Codable, Sendable, Equatable, Identifiable {
    public var id: UUID
    public var seriesID: UUID
    public var spaceID: UUID
    public var date: LocalDate
    public var startsAt: Date
    public var status: MeetingStatus
    public var skipReason: String?
    /// Server-assigned sequence number of the latest change; every change increments it.
    public var seq: Int
    public var startedAt: Date?
    public var endedAt: Date?
    /// The topic on the clock, if any.
    public var timeBox: TimeBox?

    public init(id: UUID = UUID(), seriesID: UUID, spaceID: UUID, date: LocalDate, startsAt: Date,
                status: MeetingStatus = .upcoming, skipReason: String? = nil, seq: Int = 0,
                startedAt: Date? = nil, endedAt: Date? = nil, timeBox: TimeBox? = nil) {
        self.id = id
        self.seriesID = seriesID
        self.spaceID = spaceID
        self.date = date
        self.startsAt = startsAt
        self.status = status
        self.skipReason = skipReason
        self.seq = seq
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.timeBox = timeBox
    }
}

/// What happens to a topic.
public enum TopicStatus: String, Codable, Sendable, CaseIterable {
    /// On the agenda, waiting to be discussed.
    case queued
    case discussing
    case done
    /// Not discussed; moved to the next meeting of the series.
    case carriedOver
    case withdrawn
}

/// The dots a carried-over topic had in an earlier meeting.
public struct VoteHistory: Codable, Sendable, Equatable {
    public var meetingDate: LocalDate
    public var votes: Int

    public init(meetingDate: LocalDate, votes: Int) {
        self.meetingDate = meetingDate
        self.votes = votes
    }
}

/// A proposed discussion topic, e.g. "[quest] How do we version events?".
public struct Topic: Codable, Sendable, Equatable, Identifiable {
    public var id: UUID
    public var meetingID: UUID
    public var tag: String
    public var title: String
    public var description: String
    public var proposerID: UUID?
    public var proposerName: String
    public var proposedAt: Date
    public var status: TopicStatus
    public var carriedFromID: UUID?
    public var carriedToID: UUID?
    /// Votes in earlier meetings this topic was carried over from, oldest first.
    public var voteHistory: [VoteHistory]
    public var startedAt: Date?
    public var endedAt: Date?
    /// Length of the first time box, recorded when discussion starts.
    public var timeBoxMinutes: Int?
    /// Extensions granted (by re-vote or by hand).
    public var extensionsUsed: Int
    /// 1 for the first topic discussed in the meeting, 2 for the next…
    public var discussionOrder: Int?
    /// Dots counted outside Hourglass (the `*` marks of an imported notes page), added to the votes.
    public var recordedVotes: Int

    public init(id: UUID = UUID(), meetingID: UUID, tag: String, title: String, description: String = "",
                proposerID: UUID?, proposerName: String, proposedAt: Date, status: TopicStatus = .queued,
                carriedFromID: UUID? = nil, carriedToID: UUID? = nil, voteHistory: [VoteHistory] = [],
                startedAt: Date? = nil, endedAt: Date? = nil, timeBoxMinutes: Int? = nil,
                extensionsUsed: Int = 0, discussionOrder: Int? = nil, recordedVotes: Int = 0) {
        self.id = id
        self.meetingID = meetingID
        self.tag = tag
        self.title = title
        self.description = description
        self.proposerID = proposerID
        self.proposerName = proposerName
        self.proposedAt = proposedAt
        self.status = status
        self.carriedFromID = carriedFromID
        self.carriedToID = carriedToID
        self.voteHistory = voteHistory
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.timeBoxMinutes = timeBoxMinutes
        self.extensionsUsed = extensionsUsed
        self.discussionOrder = discussionOrder
        self.recordedVotes = recordedVotes
    }

    /// Seconds the topic was on the clock, once it is done.
    public var discussedSeconds: Int? {
        guard let startedAt, let endedAt else { return nil }
        return max(0, Int(endedAt.timeIntervalSince(startedAt).rounded()))
    }
}

/// A thumbs re-vote at the end of a time box.
public enum Thumb: String, Codable, Sendable, CaseIterable {
    case up
    case sideways
    case down
}

/// The shared clock of the topic under discussion. Deadlines are stored, never ticks,
/// so a reload or a restart shows the right remaining time.
public struct TimeBox: Codable, Sendable, Equatable {
    public enum Phase: String, Codable, Sendable {
        /// Discussing until `deadline`.
        case discussing
        /// Time is up; thumbs are collected until `deadline`.
        case revote
    }

    public var topicID: UUID
    public var phase: Phase
    public var deadline: Date
    public var ballots: [UUID: Thumb]

    public init(topicID: UUID, phase: Phase, deadline: Date, ballots: [UUID: Thumb] = [:]) {
        self.topicID = topicID
        self.phase = phase
        self.deadline = deadline
        self.ballots = ballots
    }

    public var tally: Tally { Tally(ballots.values) }
}

/// Counted thumbs of a re-vote.
public struct Tally: Codable, Sendable, Equatable {
    public var up: Int
    public var sideways: Int
    public var down: Int

    public init(up: Int = 0, sideways: Int = 0, down: Int = 0) {
        self.up = up
        self.sideways = sideways
        self.down = down
    }

    public init<S: Sequence>(_ thumbs: S) where S.Element == Thumb {
        self.init()
        for thumb in thumbs {
            switch thumb {
            case .up: up += 1
            case .sideways: sideways += 1
            case .down: down += 1
            }
        }
    }

    /// A majority of up against down extends; sideways counts as neither, and a tie or no vote ends the topic.
    public var extends: Bool { up > down }
}
