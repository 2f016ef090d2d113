import Foundation

/// Someone acting on a board.
public struct Actor: Sendable, Equatable {
    public var userID: UUID
    public var name: String
    public var canFacilitate: Bool

    public init(userID: UUID, name: String, canFacilitate: Bool) {
        self.userID = userID
        self.name = name
        self.canFacilitate = canFacilitate
    }
}

/// Everything anyone can do to a meeting's board. The same commands arrive from HTML forms,
/// the JSON API and the WebSocket, and all go through `Board.apply`.
public enum BoardCommand: Sendable, Equatable {
    case propose(tag: String, title: String, description: String)
    case withdraw(topicID: UUID)
    case vote(topicID: UUID)
    case unvote(topicID: UUID)
    case startMeeting
    /// Starts the given topic, or the top of the agenda when nil.
    case startTopic(topicID: UUID?)
    case endTopic
    case extend
    case revote(Thumb)
    case closeRevote
    case endMeeting
    case skip(reason: String)
    /// Applies what the passage of time decides (time box over, re-vote closed). Server only.
    case advance

    /// The command's name on the wire.
    public var name: String {
        switch self {
        case .propose: "propose"
        case .withdraw: "withdraw"
        case .vote: "vote"
        case .unvote: "unvote"
        case .startMeeting: "startMeeting"
        case .startTopic: "startTopic"
        case .endTopic: "endTopic"
        case .extend: "extend"
        case .revote: "revote"
        case .closeRevote: "closeRevote"
        case .endMeeting: "endMeeting"
        case .skip: "skip"
        case .advance: "advance"
        }
    }
}

/// Why a command was refused; `message` is shown to the person as is.
public struct BoardError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The input is malformed or breaks a rule (400/422).
        case invalid
        /// The referenced topic does not exist in this meeting (404).
        case notFound
        /// The caller may not do this (403; outsiders never get this far).
        case forbidden
        /// The board is not in a state that allows it (409).
        case conflict
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// One meeting's board: the meeting, its topics and dots. A value type; `apply` is pure.
public struct Board: Sendable, Equatable {
    public var meeting: Meeting
    public var settings: SeriesSettings
    public var topics: [Topic]
    /// Dots per topic per participant.
    public var votes: [VoteKey: Int]

    public struct VoteKey: Hashable, Sendable, Codable {
        public var topicID: UUID
        public var userID: UUID
        public init(topicID: UUID, userID: UUID) {
            self.topicID = topicID
            self.userID = userID
        }
    }

    public init(meeting: Meeting, settings: SeriesSettings, topics: [Topic] = [], votes: [VoteKey: Int] = [:]) {
        self.meeting = meeting
        self.settings = settings
        self.topics = topics
        self.votes = votes
    }

    public static let maxTitleLength = 300
    public static let maxDescriptionLength = 5000
    public static let maxTopics = 500

    // MARK: Queries

    public func topic(_ id: UUID) -> Topic? { topics.first { $0.id == id } }

    /// Dots on a topic: participants' votes plus any recorded outside Hourglass.
    public func votes(on topicID: UUID) -> Int {
        votes.reduce(topic(topicID)?.recordedVotes ?? 0) { $0 + ($1.key.topicID == topicID ? $1.value : 0) }
    }

    public func votes(by userID: UUID) -> Int {
        votes.reduce(0) { $0 + ($1.key.userID == userID ? $1.value : 0) }
    }

    public func votes(by userID: UUID, on topicID: UUID) -> Int {
        votes[VoteKey(topicID: topicID, userID: userID)] ?? 0
    }

    /// Queued topics in agenda order: most dots first; ties go to the earlier proposal.
    public var agenda: [Topic] {
        let totals = Dictionary(grouping: votes, by: { $0.key.topicID }).mapValues { $0.reduce(0) { $0 + $1.value } }
        return topics.filter { $0.status == .queued }.sorted { a, b in
            let (va, vb) = ((totals[a.id] ?? 0) + a.recordedVotes, (totals[b.id] ?? 0) + b.recordedVotes)
            if va != vb { return va > vb }
            if a.proposedAt != b.proposedAt { return a.proposedAt < b.proposedAt }
            return a.id.uuidString < b.id.uuidString
        }
    }

    /// Topics already discussed, in the order they were discussed.
    public var discussed: [Topic] {
        topics.filter { $0.status == .done }.sorted { ($0.discussionOrder ?? 0) < ($1.discussionOrder ?? 0) }
    }

    public var currentTopic: Topic? { meeting.timeBox.flatMap { topic($0.topicID) } }

    /// When the passage of time will next change this board, if ever.
    public var nextDeadline: Date? { meeting.status == .live ? meeting.timeBox?.deadline : nil }

    // MARK: Commands

    /// Applies a command at time `now` and returns the new board, or throws why not.
    /// Time-driven transitions are applied first, so every command sees an up-to-date clock.
    public func apply(_ command: BoardCommand, by actor: Actor?, at now: Date) throws -> Board {
        var board = self
        board.advance(to: now)
        try board.perform(command, by: actor, at: now)
        return board
    }

    private mutating func perform(_ command: BoardCommand, by actor: Actor?, at now: Date) throws {
        if case .advance = command { return }
        guard let actor else { throw BoardError(.forbidden, "Sign in to take part") }
        switch command {
        case let .propose(tag, title, description):
            try requireOpen("propose topics")
            let tag = try? Validate.tag(tag)
            guard let tag, settings.tags.contains(tag) else {
                throw BoardError(.invalid, "Choose an intention tag: " + settings.tags.map { "[\($0)]" }.joined(separator: ", "))
            }
            let title = try validated { try Validate.text(title, field: "title", max: Board.maxTitleLength) }
            let description = try validated {
                try Validate.text(description, field: "description", max: Board.maxDescriptionLength, allowEmpty: true, multiline: true)
            }
            guard topics.count < Board.maxTopics else { throw BoardError(.conflict, "This meeting already has \(Board.maxTopics) topics") }
            topics.append(Topic(meetingID: meeting.id, tag: tag, title: title, description: description,
                                proposerID: actor.userID, proposerName: actor.name, proposedAt: now))

        case let .withdraw(topicID):
            let topic = try existingTopic(topicID)
            guard topic.proposerID == actor.userID || actor.canFacilitate else {
                throw BoardError(.forbidden, "Only the proposer or a facilitator can withdraw a topic")
            }
            guard topic.status == .queued else { throw BoardError(.conflict, "Only a topic that has not been discussed can be withdrawn") }
            update(topicID) { $0.status = .withdrawn }
            votes = votes.filter { $0.key.topicID != topicID }

        case let .vote(topicID):
            try requireOpen("vote")
            let topic = try existingTopic(topicID)
            guard topic.status == .queued else { throw BoardError(.conflict, "Votes go to topics still on the agenda") }
            let used = votes(by: actor.userID)
            guard used < settings.votesPerParticipant else {
                throw BoardError(.conflict, "You have used all \(settings.votesPerParticipant) of your votes; take one back first")
            }
            let key = VoteKey(topicID: topicID, userID: actor.userID)
            guard (votes[key] ?? 0) < settings.maxVotesPerTopic else {
                throw BoardError(.conflict, "At most \(settings.maxVotesPerTopic) of your votes can go to one topic")
            }
            votes[key, default: 0] += 1

        case let .unvote(topicID):
            try requireOpen("change votes")
            _ = try existingTopic(topicID)
            let key = VoteKey(topicID: topicID, userID: actor.userID)
            guard let count = votes[key], count > 0 else { throw BoardError(.conflict, "You have no vote on this topic to take back") }
            votes[key] = count > 1 ? count - 1 : nil

        case .startMeeting:
            try requireFacilitator(actor)
            guard meeting.status == .upcoming else { throw BoardError(.conflict, "The meeting is \(meeting.status.rawValue), not upcoming") }
            meeting.status = .live
            meeting.startedAt = now

        case let .startTopic(topicID):
            try requireFacilitator(actor)
            guard meeting.status.isOpen else { throw BoardError(.conflict, "The meeting is \(meeting.status.rawValue)") }
            if let current = currentTopic {
                throw BoardError(.conflict, "\"\(current.title)\" is still on the clock; end it first")
            }
            let next: Topic
            if let topicID {
                next = try existingTopic(topicID)
                guard next.status == .queued else { throw BoardError(.conflict, "That topic is not on the agenda") }
            } else {
                guard let top = agenda.first else { throw BoardError(.conflict, "The agenda is empty") }
                next = top
            }
            if meeting.status == .upcoming {
                meeting.status = .live
                meeting.startedAt = now
            }
            let order = (topics.compactMap(\.discussionOrder).max() ?? 0) + 1
            let timeBoxMinutes = settings.timeBoxMinutes
            update(next.id) {
                $0.status = .discussing
                $0.startedAt = now
                $0.timeBoxMinutes = timeBoxMinutes
                $0.discussionOrder = order
            }
            meeting.timeBox = TimeBox(topicID: next.id, phase: .discussing, deadline: now + minutes(settings.timeBoxMinutes))

        case .endTopic:
            try requireFacilitator(actor)
            guard meeting.timeBox != nil else { throw BoardError(.conflict, "No topic is on the clock") }
            finishCurrentTopic(at: now)

        case .extend:
            try requireFacilitator(actor)
            guard let box = meeting.timeBox, let topic = currentTopic else { throw BoardError(.conflict, "No topic is on the clock") }
            let from = box.phase == .discussing ? max(box.deadline, now) : now
            extendCurrentTopic(by: step(after: topic.extensionsUsed), from: from)

        case let .revote(thumb):
            guard meeting.status == .live, let box = meeting.timeBox, box.phase == .revote else {
                throw BoardError(.conflict, "There is no re-vote open right now")
            }
            meeting.timeBox?.ballots[actor.userID] = thumb

        case .closeRevote:
            try requireFacilitator(actor)
            guard let box = meeting.timeBox, box.phase == .revote else { throw BoardError(.conflict, "There is no re-vote open right now") }
            resolveRevote(at: now)

        case .endMeeting:
            try requireFacilitator(actor)
            guard meeting.status.isOpen else { throw BoardError(.conflict, "The meeting is already \(meeting.status.rawValue)") }
            if meeting.timeBox != nil { finishCurrentTopic(at: now) }
            if meeting.startedAt == nil { meeting.startedAt = now }
            meeting.status = .ended
            meeting.endedAt = now

        case let .skip(reason):
            try requireFacilitator(actor)
            guard meeting.status == .upcoming else { throw BoardError(.conflict, "Only an upcoming meeting can be skipped") }
            let reason = try validated { try Validate.text(reason, field: "reason", max: 500) }
            meeting.status = .skipped
            meeting.skipReason = reason

        case .advance:
            return
        }
    }

    /// Applies every time-driven transition due by `now`: a time box that ran out opens the
    /// re-vote (or ends the topic when no extension is left); a re-vote whose time is up is counted.
    public mutating func advance(to now: Date) {
        while meeting.status == .live, let box = meeting.timeBox, box.deadline <= now {
            switch box.phase {
            case .discussing:
                let used = currentTopic?.extensionsUsed ?? 0
                if used < settings.extensionSteps.count {
                    meeting.timeBox = TimeBox(topicID: box.topicID, phase: .revote,
                                              deadline: box.deadline + TimeInterval(settings.revoteSeconds))
                } else {
                    finishCurrentTopic(at: box.deadline)
                }
            case .revote:
                resolveRevote(at: box.deadline)
            }
        }
    }

    private mutating func resolveRevote(at now: Date) {
        guard let box = meeting.timeBox, let topic = currentTopic else { return }
        if box.tally.extends, topic.extensionsUsed < settings.extensionSteps.count {
            extendCurrentTopic(by: settings.extensionSteps[topic.extensionsUsed], from: now)
        } else {
            finishCurrentTopic(at: now)
        }
    }

    private mutating func extendCurrentTopic(by minutesToAdd: Int, from start: Date) {
        guard let box = meeting.timeBox else { return }
        update(box.topicID) { $0.extensionsUsed += 1 }
        meeting.timeBox = TimeBox(topicID: box.topicID, phase: .discussing, deadline: start + minutes(minutesToAdd))
    }

    private mutating func finishCurrentTopic(at now: Date) {
        guard let box = meeting.timeBox else { return }
        update(box.topicID) {
            $0.status = .done
            $0.endedAt = now
        }
        meeting.timeBox = nil
    }

    /// Minutes of the next extension: the configured step, or the last one once they are used up
    /// (a facilitator may always extend by hand).
    public func step(after used: Int) -> Int {
        if used < settings.extensionSteps.count { return settings.extensionSteps[used] }
        return settings.extensionSteps.last ?? 5
    }

    // MARK: Carry-over

    /// Moves every undiscussed topic of this (ended or skipped) board onto `next`, keeping each
    /// topic's proposal time and adding this meeting's dots to its vote history.
    public func carryOver(into next: Board, at now: Date) -> (from: Board, into: Board) {
        var from = self
        var into = next
        guard !meeting.status.isOpen, next.meeting.status.isOpen else { return (from, into) }
        for topic in topics where topic.status == .queued {
            let copy = Topic(meetingID: next.meeting.id, tag: topic.tag, title: topic.title, description: topic.description,
                             proposerID: topic.proposerID, proposerName: topic.proposerName, proposedAt: topic.proposedAt,
                             carriedFromID: topic.id,
                             voteHistory: topic.voteHistory + [VoteHistory(meetingDate: meeting.date, votes: votes(on: topic.id))])
            into.topics.append(copy)
            from.update(topic.id) {
                $0.status = .carriedOver
                $0.carriedToID = copy.id
            }
        }
        return (from, into)
    }

    // MARK: Helpers

    private mutating func update(_ id: UUID, _ change: (inout Topic) -> Void) {
        if let index = topics.firstIndex(where: { $0.id == id }) { change(&topics[index]) }
    }

    private func existingTopic(_ id: UUID) throws -> Topic {
        guard let topic = topic(id), topic.status != .withdrawn else { throw BoardError(.notFound, "No such topic in this meeting") }
        return topic
    }

    private func requireOpen(_ what: String) throws {
        guard meeting.status.isOpen else { throw BoardError(.conflict, "The meeting is \(meeting.status.rawValue); you can no longer \(what)") }
    }

    private func requireFacilitator(_ actor: Actor) throws {
        guard actor.canFacilitate else { throw BoardError(.forbidden, "Only a facilitator can do that") }
    }

    private func validated<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as ValidationError {
            throw BoardError(.invalid, "The \(error.field) \(error.message)")
        }
    }

    private func minutes(_ value: Int) -> TimeInterval { TimeInterval(value * 60) }
}
