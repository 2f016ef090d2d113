import Foundation
import HourglassCore

/// What must be written to turn the stored `old` board into `new`: the one diffing rule both
/// backends share, so a command writes the same rows on SQLite and on PostgreSQL.
struct BoardWrites {
    /// The new board with its sequence number incremented.
    var board: Board
    var topics: [Topic]
    var votes: [VoteRow]
    var deletedVotes: [Board.VoteKey]
    /// Written in the same transaction: "notes are ready" when the meeting ended.
    var events: [NotifyEvent]
    /// Proposers watch their new topics (unless they turned that watch off before).
    var watches: [Watch]

    /// Nil when nothing differs (then nothing is written and `seq` stays).
    init?(old: Board, new: Board, now: Date) {
        guard new != old else { return nil }
        board = new
        board.meeting.seq = old.meeting.seq + 1
        let oldTopics = Dictionary(uniqueKeysWithValues: old.topics.map { ($0.id, $0) })
        topics = new.topics.filter { oldTopics[$0.id] != $0 }
        var votes: [VoteRow] = []
        var deleted: [Board.VoteKey] = []
        for key in Set(old.votes.keys).union(new.votes.keys) where old.votes[key] != new.votes[key] {
            if let count = new.votes[key] {
                votes.append(VoteRow(meetingID: new.meeting.id, topicID: key.topicID, userID: key.userID, count: count))
            } else {
                deleted.append(key)
            }
        }
        self.votes = votes
        deletedVotes = deleted
        let m = new.meeting
        events = old.meeting.status != .ended && m.status == .ended
            ? [NotifyEvent(kind: .notesReady, spaceID: m.spaceID, meetingID: m.id, at: now)] : []
        watches = new.topics.filter { oldTopics[$0.id] == nil }.compactMap { topic in
            topic.proposerID.map { Watch(userID: $0, kind: .topic, targetID: topic.id, spaceID: m.spaceID, automatic: true, createdAt: now) }
        }
    }
}

/// The pairs of (stored, new) boards one command writes: the meeting itself and, when the command
/// closed it, the next meeting of the series with the undiscussed topics carried into it.
func boardChanges(old: Board, new: Board, next: Board?, now: Date) -> [(old: Board, new: Board)] {
    guard let next else { return [(old, new)] }
    let moved = new.carryOver(into: next, at: now)
    return [(old, moved.from), (next, moved.into)]
}
