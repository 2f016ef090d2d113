import Crypto
import Foundation
import HourglassCore

/// What an import read from a file and what it added to the store.
public struct ImportSummary: Codable, Sendable, Equatable {
    public var space: String
    public var series: String
    /// Counted in the file.
    public var meetings: Int
    public var topics: Int
    public var bullets: Int
    public var votes: Int
    /// Rows written, per table (all zero when the same file was imported before).
    public var written: [String: Int]

    public init(space: String, series: String, meetings: Int, topics: Int, bullets: Int, votes: Int, written: [String: Int]) {
        self.space = space
        self.series = series
        self.meetings = meetings
        self.topics = topics
        self.bullets = bullets
        self.votes = votes
        self.written = written
    }
}

/// Turns an imported notes page into store rows for one series. Every id is derived from what it
/// identifies (the series, the date, the topic's place and title, the bullet's path and text), so
/// importing the same file again produces the same rows, which `merge` then leaves alone.
public enum ArchiveImport {
    /// The rows for `archive` in `series`. `existing` are the series' meetings already stored: a
    /// date that has one keeps it (its topics and notes are added to it). Meetings after `today` are upcoming.
    public static func content(of archive: ImportedArchive, series: Series, existing: [Meeting], today: LocalDate) throws -> StoreSnapshot {
        var content = StoreSnapshot()
        content.series = [series]
        let stored = Dictionary(existing.map { ($0.date, $0) }, uniquingKeysWith: { a, _ in a })
        // Oldest first, so rows are written in date order (search ranks the most recently written matches).
        for imported in archive.meetings.sorted(by: { $0.date < $1.date }) {
            let occurrence = series.schedule.occurrence(on: imported.date)
            let held = imported.skipReason == nil && imported.date <= today
            let meeting = stored[imported.date] ?? Meeting(
                id: stableID("meeting", series.id.uuidString, imported.date.description), seriesID: series.id, spaceID: series.spaceID,
                date: imported.date, startsAt: occurrence.startsAt,
                status: imported.skipReason != nil ? .skipped : held ? .ended : .upcoming, skipReason: imported.skipReason,
                startedAt: held ? occurrence.startsAt : nil,
                endedAt: held ? occurrence.startsAt.addingTimeInterval(Double(series.schedule.durationMinutes) * 60) : nil)
            if stored[imported.date] == nil { content.meetings.append(meeting) }
            let firstBullet = content.bullets.count
            try addBullets(imported.notes, meetingID: meeting.id, parent: NotesDocument.meetingSection, into: &content)
            for (index, topic) in imported.topics.enumerated() {
                let title = String(topic.title.prefix(Board.maxTitleLength))
                let row = Topic(id: stableID("topic", meeting.id.uuidString, String(index), title), meetingID: meeting.id, tag: topic.tag,
                                title: title, description: String(topic.description.prefix(Board.maxDescriptionLength)), proposerID: nil, proposerName: String(topic.proposer.prefix(80)), proposedAt: meeting.startsAt,
                                status: meeting.status == .upcoming ? .queued : .done, discussionOrder: meeting.status == .upcoming ? nil : index + 1,
                                recordedVotes: topic.votes)
                content.topics.append(row)
                try addBullets(topic.bullets, meetingID: meeting.id, parent: row.id.uuidString.lowercased(), into: &content)
            }
            // A new meeting's op log starts with the import, so its revision history shows where each bullet came from.
            if stored[imported.date] == nil, content.bullets.count > firstBullet {
                let at = meeting.endedAt ?? meeting.startsAt
                for (index, row) in content.bullets[firstBullet...].enumerated() {
                    let entry = NoteEntry(seq: index + 1, client: "import", clientSeq: index + 1, userID: nil,
                                          change: .create(bullet: row.id, parent: row.parent, order: row.orderKey, text: row.text), at: at)
                    content.noteOps.append(try NoteOpRow(meetingID: meeting.id, entry))
                }
                content.notesHeads.append(NotesHead(meetingID: meeting.id, seq: content.bullets.count - firstBullet))
            }
        }
        return content
    }

    /// Adds a forest of bullets under `parent`, in order.
    static func addBullets(_ bullets: [ImportedBullet], meetingID: UUID, parent: String, into content: inout StoreSnapshot) throws {
        var previous: String?
        for bullet in bullets {
            let order = try OrderKey.between(previous, nil)
            previous = order
            let id = "imp-" + stableID("bullet", meetingID.uuidString, parent, order, bullet.text).uuidString.lowercased()
                .replacingOccurrences(of: "-", with: "").prefix(24)
            content.bullets.append(BulletRow(meetingID: meetingID, Bullet(id: id, parent: parent, order: order, text: bullet.text)))
            try addBullets(bullet.children, meetingID: meetingID, parent: id, into: &content)
        }
    }

    /// A UUID (version 5 layout) from SHA-256 of the parts.
    public static func stableID(_ parts: String...) -> UUID {
        var bytes = Array(SHA256.hash(data: Data(parts.joined(separator: "\u{1F}").utf8)).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x50
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}
