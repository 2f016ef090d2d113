import Foundation
import HourglassCore
import HourglassStore
import Hummingbird
import Logging

/// A rendered export: the body and how to serve or save it.
struct ExportFile: Sendable {
    var body: String
    var mediaType: String
    var filename: String

    /// The file as a response: an attachment to save, or inline (feeds, calendars).
    func response(download: Bool) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = mediaType
        headers[.contentDisposition] = "\(download ? "attachment" : "inline"); filename=\"\(filename)\""
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

/// A space's content as a JSON file: everything needed to re-import it losslessly (accounts are
/// referenced by id only; votes of people unknown where it is imported count as recorded dots).
struct SpaceExport: Codable, Sendable {
    var format = "hourglass-export"
    var version = 1
    var exportedAt: Date
    var space: Space
    var content: StoreSnapshot
}

/// Import and export of a space's archive, shared by the CLI and the download links of the pages.
/// Callers resolve access to the space first.
struct ArchiveService: Sendable {
    let store: any HourglassStore
    let now: @Sendable () -> Date
    /// Absolute base of links in feeds and exports ("https://hourglass.example.org").
    let baseURL: String

    // MARK: Reading

    func archived(_ meetings: [Meeting], series: Series) async throws -> [ArchivedMeeting] {
        var out: [ArchivedMeeting] = []
        for meeting in meetings {
            guard let board = try await store.board(spaceID: meeting.spaceID, meetingID: meeting.id) else { continue }
            let state = try await store.notes(meetingID: meeting.id)
            out.append(ArchivedMeeting(board: board, notes: NotesDocument(sections: board.sectionIDs, bullets: state.bullets)))
        }
        return out
    }

    /// The series in scope and their meetings, newest first: one meeting, one series, or the whole space.
    func scope(space: Space, series seriesSlug: String?, date: LocalDate?) async throws -> [(Series, [Meeting])] {
        var all = try await store.series(spaceID: space.id)
        if let seriesSlug {
            all = all.filter { $0.slug == seriesSlug }
            guard !all.isEmpty else { throw AppError.notFound("No series \"\(seriesSlug.prefix(60))\" in \(space.slug)") }
        } else if date != nil {
            throw AppError(.badRequest, "Name the series of the meeting (--series)")
        }
        var out: [(Series, [Meeting])] = []
        for series in all.sorted(by: { $0.name < $1.name }) {
            var meetings = try await store.meetings(spaceID: space.id, seriesID: series.id)
            if let date {
                meetings = meetings.filter { $0.date == date }
                guard !meetings.isEmpty else { throw AppError.notFound("No meeting on \(date) in \(series.name)") }
            }
            out.append((series, meetings))
        }
        return out
    }

    func link(_ space: Space, _ series: Series, _ date: LocalDate) -> String {
        baseURL + Paths.meeting(space.slug, series.slug, date)
    }

    func export(_ format: ArchiveExport.Format, space: Space, series seriesSlug: String?, date: LocalDate?) async throws -> ExportFile {
        let scope = try await scope(space: space, series: seriesSlug, date: date)
        let name = [space.slug, seriesSlug, date?.description].compactMap { $0 }.joined(separator: "-")
        let filename = "\(name).\(format.fileExtension)"
        let title = scope.count == 1 ? scope[0].0.name + (date.map { " — \($0)" } ?? "") : space.name
        let description = scope.count == 1 && date == nil ? scope[0].0.description : space.description
        switch format {
        case .json:
            var content = StoreSnapshot()
            for (series, meetings) in scope {
                content.series.append(series)
                for archived in try await archived(meetings, series: series) {
                    append(archived, to: &content)
                    let entries = try await store.noteEntries(meetingID: archived.meeting.id, after: 0, limit: Int.max)
                    content.noteOps += try entries.map { try NoteOpRow(meetingID: archived.meeting.id, $0) }
                    if let last = entries.last?.seq { content.notesHeads.append(NotesHead(meetingID: archived.meeting.id, seq: last)) }
                }
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            encoder.dateEncodingStrategy = .secondsSince1970
            let body = String(decoding: try encoder.encode(SpaceExport(exportedAt: now(), space: space, content: content.canonical)), as: UTF8.self)
            return ExportFile(body: body, mediaType: format.mediaType, filename: filename)
        case .atom:
            var entries: [ArchiveExport.FeedEntry] = []
            for (series, meetings) in scope {
                for archived in try await archived(Array(meetings.prefix(200)), series: series) {
                    let m = archived.meeting
                    entries.append(.init(id: "urn:uuid:\(m.id.uuidString.lowercased())", title: "\(series.name) — \(m.date)",
                                         link: link(space, series, m.date), updated: m.endedAt ?? m.startsAt,
                                         summary: ArchiveExport.summary(archived)))
                }
            }
            entries.sort { $0.updated > $1.updated }
            let path = seriesSlug.map { Paths.series(space.slug, $0) } ?? Paths.space(space.slug)
            let body = ArchiveExport.atom(id: "urn:uuid:\((seriesSlug == nil ? space.id : scope[0].0.id).uuidString.lowercased())",
                                          title: title, selfLink: baseURL + path + "/feed.atom", pageLink: baseURL + path,
                                          entries: Array(entries.prefix(200)), now: now())
            return ExportFile(body: body, mediaType: format.mediaType, filename: filename)
        case .markdown, .html, .confluence:
            var meetings: [ArchivedMeeting] = []
            var bySeries: [UUID: Series] = [:]
            for (series, list) in scope {
                bySeries[series.id] = series
                meetings += try await archived(list, series: series)
            }
            meetings.sort { $0.meeting.date > $1.meeting.date }
            let link: (Meeting) -> String? = { m in bySeries[m.seriesID].map { self.link(space, $0, m.date) } }
            let body = switch format {
            case .markdown: ArchiveExport.markdown(title: title, description: description, meetings: meetings)
            case .html: ArchiveExport.html(title: title, description: description, meetings: meetings, link: link)
            default: ArchiveExport.confluence(description: description, meetings: meetings, link: link)
            }
            return ExportFile(body: body, mediaType: format.mediaType, filename: filename)
        }
    }

    func calendar(space: Space, series: Series) async throws -> ExportFile {
        let meetings = try await store.meetings(spaceID: space.id, seriesID: series.id)
        let body = ArchiveExport.ics(series: series, meetings: meetings, link: { self.link(space, series, $0) }, now: now())
        return ExportFile(body: body, mediaType: "text/calendar; charset=utf-8", filename: "\(space.slug)-\(series.slug).ics")
    }

    private func append(_ archived: ArchivedMeeting, to content: inout StoreSnapshot) {
        let board = archived.board
        content.meetings.append(board.meeting)
        content.topics += board.topics
        content.votes += board.votes.map { VoteRow(meetingID: board.meeting.id, topicID: $0.key.topicID, userID: $0.key.userID, count: $0.value) }
        content.bullets += archived.notes.allBullets.map { BulletRow(meetingID: board.meeting.id, $0) }
    }

    // MARK: Import

    /// Reads a notes page (plain text or Markdown) or a JSON export into a series of `space`, in
    /// one transaction. Importing the same file again writes nothing.
    func importFile(_ data: Data, into space: Space, series seriesName: String?,
                    progress: (@Sendable (Int, Int) -> Void)? = nil) async throws -> ImportSummary {
        if data.first(where: { !" \n\r\t".utf8.contains($0) }) == UInt8(ascii: "{") {
            return try await importJSON(data, into: space, progress: progress)
        }
        let existingSeries = try await findSeries(seriesName, in: space)
        let archive = try ArchiveText.parse(data, tags: existingSeries?.settings.tags ?? SeriesSettings.defaultTags)
        var series = existingSeries ?? newSeries(named: seriesName ?? space.name, in: space, archive: archive)
        if series.description.isEmpty, !archive.preface.isEmpty { series.description = String(archive.preface.prefix(5000)) }
        let found = archive.meetings.flatMap(\.topics).map(\.tag).filter { !$0.isEmpty && (try? Validate.tag($0)) != nil }
        for tag in found where !series.settings.tags.contains(tag) && series.settings.tags.count < 20 { series.settings.tags.append(tag) }
        let existing = try await store.meetings(spaceID: space.id, seriesID: series.id)
        let today = LocalDate(now(), in: TimeZone(identifier: series.schedule.timeZone) ?? .gmt)
        var content = try ArchiveImport.content(of: archive, series: series, existing: existing, today: today)
        if existingSeries == nil {
            let upcoming = series.newMeeting(after: now(), now: now())
            if !archive.meetings.contains(where: { $0.date == upcoming.date }) { content.meetings.append(upcoming) }
        }
        let written = try await store.merge(content, progress: progress)
        return ImportSummary(space: space.slug, series: series.slug, meetings: archive.meetings.count, topics: archive.topicCount,
                             bullets: archive.bulletCount, votes: archive.voteCount, written: written)
    }

    /// The series named on the command line (by name or slug); without a name, the space's only series.
    func findSeries(_ name: String?, in space: Space) async throws -> Series? {
        let all = try await store.series(spaceID: space.id)
        guard let name else {
            guard all.count <= 1 else {
                throw AppError(.badRequest, "\(space.slug) has several series (\(all.map(\.slug).joined(separator: ", "))); choose one with --series")
            }
            return all.first
        }
        let slug = Validate.slugify(name)
        return all.first { $0.slug == slug || $0.slug == name || $0.name.caseInsensitiveCompare(name) == .orderedSame }
    }

    /// A series for imported meetings: weekly on the weekday most of them fell on, at noon UTC.
    func newSeries(named name: String, in space: Space, archive: ImportedArchive) -> Series {
        let weekdays = Dictionary(grouping: archive.meetings.map { $0.date.weekday }, by: { $0 }).mapValues(\.count)
        let weekday = weekdays.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }?.key ?? 3
        var slug = Validate.slugify(name).isEmpty ? "notes" : Validate.slugify(name)
        if slug.count < 2 || Series.reservedSlugs.contains(slug) { slug = String((slug + "-notes").prefix(40)) }
        return Series(id: ArchiveImport.stableID("series", space.id.uuidString, slug), spaceID: space.id, slug: slug,
                      name: String(name.prefix(120)), schedule: Schedule(weekday: weekday, hour: 12, minute: 0, timeZone: "UTC"),
                      createdAt: now())
    }

    /// A JSON export, re-imported: into its own space the ids stay (so nothing is duplicated); into
    /// another space every id is derived anew from the target space, series are matched by slug and
    /// meetings by date, and votes or authors unknown here become recorded dots and anonymous edits.
    func importJSON(_ data: Data, into space: Space, progress: (@Sendable (Int, Int) -> Void)?) async throws -> ImportSummary {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        let export: SpaceExport
        do {
            export = try decoder.decode(SpaceExport.self, from: data)
        } catch {
            throw AppError(.badRequest, "This JSON file is not a Hourglass export: \(String(describing: error).prefix(300))")
        }
        guard export.format == "hourglass-export", export.version == 1 else {
            throw AppError(.badRequest, "Unsupported export format \(export.format.prefix(40)) version \(export.version)")
        }
        var content = export.content
        content.users = []
        content.spaces = []
        content.memberships = []
        var ids: [UUID: UUID] = [:]
        let targetSeries = try await store.series(spaceID: space.id)
        for index in content.series.indices {
            let series = content.series[index]
            let match = targetSeries.first { $0.id == series.id || $0.slug == series.slug }
            let id = match?.id ?? (export.space.id == space.id ? series.id : ArchiveImport.stableID("copy", space.id.uuidString, series.id.uuidString))
            ids[series.id] = id
            content.series[index] = match ?? series
            content.series[index].id = id
            content.series[index].spaceID = space.id
            let stored = try await store.meetings(spaceID: space.id, seriesID: id)
            for meeting in content.meetings where meeting.seriesID == series.id {
                ids[meeting.id] = stored.first { $0.date == meeting.date }?.id
                    ?? (export.space.id == space.id ? meeting.id : ArchiveImport.stableID("copy", space.id.uuidString, meeting.id.uuidString))
            }
        }
        for topic in content.topics {
            ids[topic.id] = export.space.id == space.id ? topic.id : ArchiveImport.stableID("copy", space.id.uuidString, topic.id.uuidString)
        }
        func mapped(_ id: UUID) throws -> UUID {
            guard let new = ids[id] else { throw AppError(.badRequest, "The export refers to \(id) but does not contain it") }
            return new
        }
        func section(_ parent: String) -> String {
            UUID(uuidString: parent).flatMap { ids[$0] }?.uuidString.lowercased() ?? parent
        }
        var known: [UUID: Bool] = [:]
        func exists(_ user: UUID?) async throws -> Bool {
            guard let user else { return false }
            if let cached = known[user] { return cached }
            let found = try await store.user(id: user) != nil
            known[user] = found
            return found
        }
        content.meetings = try content.meetings.map { meeting in
            var m = meeting
            m.id = try mapped(meeting.id)
            m.seriesID = try mapped(meeting.seriesID)
            m.spaceID = space.id
            return m
        }
        var recorded: [UUID: Int] = [:]
        var votes: [VoteRow] = []
        for vote in content.votes {
            if try await exists(vote.userID) {
                votes.append(VoteRow(meetingID: try mapped(vote.meetingID), topicID: try mapped(vote.topicID), userID: vote.userID, count: vote.count))
            } else {
                recorded[vote.topicID, default: 0] += vote.count
            }
        }
        content.votes = votes
        var topics: [Topic] = []
        for topic in content.topics {
            var t = topic
            t.id = try mapped(topic.id)
            t.meetingID = try mapped(topic.meetingID)
            t.carriedFromID = topic.carriedFromID.flatMap { ids[$0] }
            t.carriedToID = topic.carriedToID.flatMap { ids[$0] }
            if !(try await exists(topic.proposerID)) { t.proposerID = nil }
            t.recordedVotes += recorded[topic.id] ?? 0
            topics.append(t)
        }
        content.topics = topics
        content.bullets = try content.bullets.map { row in
            var b = row
            b.meetingID = try mapped(row.meetingID)
            b.parent = section(row.parent)
            return b
        }
        var ops: [NoteOpRow] = []
        for row in content.noteOps {
            var entry = try row.entry()
            if !(try await exists(entry.userID)) { entry.userID = nil }
            switch entry.change {
            case let .create(bullet, parent, order, text): entry.change = .create(bullet: bullet, parent: section(parent), order: order, text: text)
            case let .move(bullet, parent, order): entry.change = .move(bullet: bullet, parent: section(parent), order: order)
            default: break
            }
            ops.append(try NoteOpRow(meetingID: try mapped(row.meetingID), entry))
        }
        content.noteOps = ops
        content.notesHeads = try content.notesHeads.map { NotesHead(meetingID: try mapped($0.meetingID), seq: $0.seq) }
        let written = try await store.merge(content, progress: progress)
        return ImportSummary(space: space.slug, series: content.series.map(\.slug).joined(separator: ","), meetings: content.meetings.count,
                             topics: content.topics.count, bullets: content.bullets.count,
                             votes: content.votes.reduce(0) { $0 + $1.count } + content.topics.reduce(0) { $0 + $1.recordedVotes },
                             written: written)
    }
}

/// `hourglass import`: reads a file into a space of the installation, in one transaction.
public func importFromCommandLine(_ configuration: AppConfiguration, data: Data, space slug: String, series: String?,
                                  progress: (@Sendable (Int, Int) -> Void)?) async throws -> ImportSummary {
    try await configuration.storeLocation.withStore(logger: Logger(label: "hourglass")) { store in
        guard let space = try await store.space(slug: slug) else { throw AppError.notFound("No space \"\(slug.prefix(60))\"") }
        return try await ArchiveService(store: store, now: configuration.now, baseURL: configuration.baseURL)
            .importFile(data, into: space, series: series, progress: progress)
    }
}

/// `hourglass export`: a space, a series or one meeting in one of the export formats.
public func exportFromCommandLine(_ configuration: AppConfiguration, space slug: String, series: String?, meeting: String?,
                                  format: String) async throws -> String {
    guard let format = ArchiveExport.Format(rawValue: format) else {
        throw AppError(.badRequest, "Unknown format \"\(format.prefix(40))\"; choose one of " + ArchiveExport.Format.allCases.map(\.rawValue).joined(separator: ", "))
    }
    let date = meeting.map { LocalDate($0) }
    if date == .some(nil) { throw AppError(.badRequest, "--meeting takes a date such as 2022-12-14") }
    return try await configuration.storeLocation.withStore(logger: Logger(label: "hourglass")) { store in
        guard let space = try await store.space(slug: slug) else { throw AppError.notFound("No space \"\(slug.prefix(60))\"") }
        return try await ArchiveService(store: store, now: configuration.now, baseURL: configuration.baseURL)
            .export(format, space: space, series: series, date: date ?? nil).body
    }
}
