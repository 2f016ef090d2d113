import Foundation
import HourglassCore

/// The board as clients see it: what everyone may see (`PublicBoard`, encoded once per change
/// and shared by every connection) plus what only the caller sees (`PersonalBoard`).
struct PublicBoard: Encodable {
    struct MeetingInfo: Encodable {
        var id: UUID
        var date: String
        var status: MeetingStatus
        var skipReason: String?
        var startsAt: Int64
        var startedAt: Int64?
        var endedAt: Int64?
    }

    struct TopicInfo: Encodable {
        var id: UUID
        var tag: String
        var title: String
        var description: String
        var proposerName: String
        var status: TopicStatus
        var votes: Int
        var voteHistory: [VoteHistory]
        var timeBoxMinutes: Int?
        var extensionsUsed: Int
        var discussedSeconds: Int?
        var carriedOver: Bool
    }

    struct Clock: Encodable {
        var topicId: UUID
        var phase: TimeBox.Phase
        /// Milliseconds since 1970; clients subtract their corrected clock.
        var deadline: Int64
        var tally: Tally
        var voters: Int
        var nextExtensionMinutes: Int?
    }

    struct Person: Encodable, Hashable {
        var name: String
    }

    var seq: Int
    var meeting: MeetingInfo
    var settings: SeriesSettings
    /// In display order: the topic on the clock, the agenda by votes, then the discussed ones.
    var topics: [TopicInfo]
    var clock: Clock?
    var present: [Person]

    private enum CodingKeys: String, CodingKey { case seq, meeting, settings, topics, clock, present }

    /// Spelled out so that "no clock" is sent as `"clock": null`, as documented.
    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(seq, forKey: .seq)
        try container.encode(meeting, forKey: .meeting)
        try container.encode(settings, forKey: .settings)
        try container.encode(topics, forKey: .topics)
        try container.encode(clock, forKey: .clock)
        try container.encode(present, forKey: .present)
    }

    init(_ board: Board, present: [String]) {
        let m = board.meeting
        seq = m.seq
        meeting = MeetingInfo(id: m.id, date: m.date.description, status: m.status, skipReason: m.skipReason,
                              startsAt: m.startsAt.millis, startedAt: m.startedAt?.millis, endedAt: m.endedAt?.millis)
        settings = board.settings
        let ordered = board.displayOrder
        topics = ordered.map { topic in
            TopicInfo(id: topic.id, tag: topic.tag, title: topic.title, description: topic.description,
                      proposerName: topic.proposerName, status: topic.status,
                      votes: topic.status == .carriedOver ? (topic.voteHistory.last?.votes ?? 0) : board.votes(on: topic.id),
                      voteHistory: topic.voteHistory, timeBoxMinutes: topic.timeBoxMinutes,
                      extensionsUsed: topic.extensionsUsed, discussedSeconds: topic.discussedSeconds,
                      carriedOver: topic.carriedFromID != nil)
        }
        clock = m.timeBox.map { box in
            let used = board.topic(box.topicID)?.extensionsUsed ?? 0
            return Clock(topicId: box.topicID, phase: box.phase, deadline: box.deadline.millis, tally: box.tally,
                         voters: box.ballots.count,
                         nextExtensionMinutes: used < board.settings.extensionSteps.count ? board.settings.extensionSteps[used] : nil)
        }
        self.present = present.map(Person.init)
    }
}

/// What only the viewer sees: their votes, their thumb and what they may do.
struct PersonalBoard: Encodable {
    var name: String?
    var signedIn: Bool
    var canParticipate: Bool
    var canFacilitate: Bool
    var votesLeft: Int
    /// The viewer's dots per topic id.
    var votes: [String: Int]
    var thumb: Thumb?

    private enum CodingKeys: String, CodingKey { case name, signedIn, canParticipate, canFacilitate, votesLeft, votes, thumb }

    /// Spelled out so that absent values are sent as `null`, as documented.
    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(signedIn, forKey: .signedIn)
        try container.encode(canParticipate, forKey: .canParticipate)
        try container.encode(canFacilitate, forKey: .canFacilitate)
        try container.encode(votesLeft, forKey: .votesLeft)
        try container.encode(votes, forKey: .votes)
        try container.encode(thumb, forKey: .thumb)
    }

    init(_ board: Board, user: User?, access: SpaceAccess) {
        name = user?.name
        signedIn = user != nil
        canParticipate = access.canParticipate(signedIn: user != nil)
        canFacilitate = user != nil && access.canFacilitate
        var mine: [String: Int] = [:]
        if let user {
            for (key, count) in board.votes where key.userID == user.id { mine[key.topicID.uuidString] = count }
            thumb = board.meeting.timeBox?.ballots[user.id]
        }
        votes = mine
        votesLeft = canParticipate ? max(0, board.settings.votesPerParticipant - mine.values.reduce(0, +)) : 0
    }
}

extension Board {
    /// Topics as the board shows them: on the clock, agenda by votes, discussed, carried over.
    var displayOrder: [Topic] {
        let current = currentTopic.map { [$0] } ?? []
        let carried = topics.filter { $0.status == .carriedOver }
        return current + agenda + discussed.reversed() + carried
    }
}

extension Date {
    var millis: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }
}
