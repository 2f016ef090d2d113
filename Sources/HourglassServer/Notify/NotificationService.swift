import AsyncHTTPClient
import Crypto
import Foundation
import HourglassCore
import HourglassStore
import Logging
import ServiceLifecycle

/// How notifications behave; tests shorten the waits.
public struct NotifyConfiguration: Sendable {
    /// Email, when configured.
    public var smtp: SMTPConfiguration?
    /// Edits after a meeting are gathered until its notes have been quiet this long.
    public var quietPeriod: TimeInterval
    /// Webhooks may call loopback, private and link-local addresses (off by default).
    public var allowPrivateWebhooks: Bool
    /// Reminders go out this long before a meeting starts.
    public var reminderLead: TimeInterval
    /// Daily email digests go out at this hour (UTC).
    public var dailyDigestHour: Int
    /// Proposals are gathered this long before an agenda notice goes out (one a day at most).
    public var agendaDelay: TimeInterval
    /// How often the worker looks for events and due deliveries.
    public var interval: Duration

    public init(smtp: SMTPConfiguration? = nil, quietPeriod: TimeInterval = 600, allowPrivateWebhooks: Bool = false,
                reminderLead: TimeInterval = 3600, dailyDigestHour: Int = 7, agendaDelay: TimeInterval = 600, interval: Duration = .seconds(1)) {
        self.smtp = smtp
        self.quietPeriod = quietPeriod
        self.allowPrivateWebhooks = allowPrivateWebhooks
        self.reminderLead = reminderLead
        self.dailyDigestHour = dailyDigestHour
        self.agendaDelay = agendaDelay
        self.interval = interval
    }
}

/// What one notification says, in every form a channel needs.
struct NotificationText: Sendable {
    var title: String
    var text: String
    var html: String
    /// Path of the exact place.
    var link: String
    /// People the event is about who should not hear about it (the author of a comment, the editors of a digest).
    var actors: Set<UUID>
    var mentioned: Set<String>
    var targets: [(WatchKind, UUID)]
}

/// Turns events into notifications (inbox, email, webhooks) and delivers them with retries: the
/// fan-out, the delivery worker and the scheduler (quiet digests, agenda notices, reminders, daily
/// emails) in one service. Every step is idempotent, so a crash at any point repeats nothing that
/// finished and loses nothing that did not.
struct NotificationService: Service {
    let store: any HourglassStore
    let configuration: NotifyConfiguration
    let baseURL: String
    let now: @Sendable () -> Date
    let logger: Logger

    func run() async throws {
        let client = HTTPClient(eventLoopGroupProvider: .singleton,
                                configuration: .init(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: .seconds(10))))
        let webhooks = WebhookSender(client: client, allowPrivate: configuration.allowPrivateWebhooks)
        var lastSchedule = Date.distantPast
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                if now().timeIntervalSince(lastSchedule) >= scheduleEvery {
                    lastSchedule = now()
                    try await schedule()
                }
                try await closeQuietDigests()
                try await fanOutPending()
                try await deliverDue(webhooks: webhooks)
            } catch {
                logger.warning("Notifications: \(error)")
            }
            try? await Task.sleep(for: configuration.interval)
        }
        try? await client.shutdown()
    }

    // MARK: Scheduling

    /// The scheduler runs every tenth tick.
    var scheduleEvery: TimeInterval {
        10 * (Double(configuration.interval.components.seconds) + Double(configuration.interval.components.attoseconds) * 1e-18)
    }

    func closeQuietDigests() async throws {
        for digest in try await store.quietDigests(before: now().addingTimeInterval(-configuration.quietPeriod)) {
            try await store.closeDigest(digest, now: now())
        }
    }

    /// Agenda notices (at most one a day per meeting, when topics were proposed), reminders before
    /// meetings, and daily email digests.
    func schedule() async throws {
        let at = now()
        let day = LocalDate(at, in: .gmt)
        for meeting in try await store.rows(Meeting.self, where: [.eq("status", .text(MeetingStatus.upcoming.rawValue))], order: [], limit: 1000) {
            let untilStart = meeting.startsAt.timeIntervalSince(at)
            if untilStart > 0, untilStart <= configuration.reminderLead {
                _ = try await store.record(NotifyEvent(id: ArchiveImport.stableID("reminder", meeting.id.uuidString), kind: .reminder,
                                                       spaceID: meeting.spaceID, meetingID: meeting.id, at: at))
            }
            // Proposals of the last day, once they have had `agendaDelay` to gather.
            let fresh = try await store.count(Topic.databaseTableName, where: [
                .eq("meeting_id", .uuid(meeting.id)), .ge("proposed_at", .date(at.addingTimeInterval(-86400))),
                .le("proposed_at", .date(at.addingTimeInterval(-configuration.agendaDelay)))])
            if fresh > 0, untilStart > 0 {
                _ = try await store.record(NotifyEvent(id: ArchiveImport.stableID("agenda", meeting.id.uuidString, day.description), kind: .agenda,
                                                       spaceID: meeting.spaceID, meetingID: meeting.id, at: at))
            }
        }
        try await sendDailyDigests(day: day, at: at)
    }

    func sendDailyDigests(day: LocalDate, at: Date) async throws {
        guard configuration.smtp != nil, Calendar.utc.component(.hour, from: at) >= configuration.dailyDigestHour else { return }
        let daily = try await store.rows(Preference.self, where: [.eq("channel", .text(Channel.email.rawValue)), .eq("cadence", .text(Cadence.daily.rawValue))],
                                         order: [], limit: 10_000)
        for preference in daily {
            let key = "daily:\(preference.userID.uuidString.lowercased()):\(day)"
            guard try await store.deliveries(key: key).isEmpty, let user = try await store.user(id: preference.userID) else { continue }
            let items = try await store.inbox(userID: user.id, limit: 200).filter { $0.createdAt > at.addingTimeInterval(-86400) }
            guard !items.isEmpty else { continue }
            let text = items.map { "• \($0.title)\n  \($0.body.prefix(500))\n  \(baseURL)\($0.link)" }.joined(separator: "\n\n")
            let html = "<ul>" + items.map { "<li><a href=\"\(ArchiveExport.xml(baseURL + $0.link))\">\(ArchiveExport.xml($0.title))</a><br>\(ArchiveExport.xml(String($0.body.prefix(500))))</li>" }.joined() + "</ul>"
            try await store.write([.insert(try email(key: key, to: user, spaceID: nil, subject: "Hourglass: \(items.count) notification\(items.count == 1 ? "" : "s") today",
                                                     text: text, html: html), ifAbsent: true)])
        }
    }

    // MARK: Fan-out

    func fanOutPending() async throws {
        for event in try await store.pendingEvents(limit: 50) {
            do {
                try await fanOut(event)
            } catch {
                logger.warning("Notifications for event \(event.id) (\(event.kind.rawValue)) failed: \(error)")
            }
        }
    }

    func fanOut(_ event: NotifyEvent) async throws {
        guard let board = try await store.board(spaceID: event.spaceID, meetingID: event.meetingID),
              let space = try await store.rows(Space.self, where: [.eq("id", .uuid(event.spaceID))], order: [], limit: 1).first,
              let series = try await store.rows(Series.self, where: [.eq("id", .uuid(board.meeting.seriesID))], order: [], limit: 1).first,
              let text = try await compose(event, board: board, space: space, series: series) else {
            // The thing is gone (deleted space or meeting): nothing to say.
            try await store.fanOut(event, inbox: [], deliveries: [], now: now())
            return
        }
        if event.kind == .notesReady { try await makeEditorsWatch(event) }
        let watches = try await store.watchers(of: text.targets)
        let members = try await store.members(spaceID: space.id)
        var mentioned = Set<UUID>()
        if !text.mentioned.isEmpty {
            var people = Dictionary(members.map { ($0.user.id, $0.user.name) }, uniquingKeysWith: { a, _ in a })
            for watch in watches where people[watch.userID] == nil { people[watch.userID] = try await store.user(id: watch.userID)?.name }
            for (id, name) in people where text.mentioned.contains(where: { Comment.handle($0, names: name) }) { mentioned.insert(id) }
        }
        let memberIDs = Set(members.map(\.user.id))
        var recipients: [User] = []
        // Muted watches silence the thing they are on, not a mention (Audience keeps those).
        for id in Audience.recipients(watches: watches, mentioned: mentioned, actor: nil, mayRead: { _ in true }).subtracting(text.actors) {
            guard let user = try await store.user(id: id) else { continue }
            // Nobody hears about what they may not read (a private space they left, for instance).
            if space.visibility == .private, !user.isAdmin, !memberIDs.contains(id) { continue }
            recipients.append(user)
        }
        var inbox: [InboxItem] = []
        var deliveries: [Delivery] = []
        for user in recipients.sorted(by: { $0.id.uuidString < $1.id.uuidString }) {
            let preferences = try await store.preferences(userID: user.id)
            if preferences[.inbox] != .off {
                inbox.append(InboxItem(id: ArchiveImport.stableID("inbox", event.id.uuidString, user.id.uuidString), userID: user.id, spaceID: space.id,
                                       eventID: event.id, title: text.title, body: text.text, link: text.link, createdAt: event.at))
            }
            if configuration.smtp != nil, (preferences[.email] ?? .immediate) == .immediate {
                deliveries.append(try await email(key: "\(event.id.uuidString.lowercased()):\(user.id.uuidString.lowercased()):email", to: user,
                                                  spaceID: space.id, subject: text.title, text: text.text, html: text.html, link: text.link))
            }
        }
        for hook in try await store.webhooks(spaceID: space.id) {
            deliveries.append(Delivery(key: "\(event.id.uuidString.lowercased()):webhook:\(hook.id.uuidString.lowercased())", kind: .webhook,
                                       spaceID: space.id, userID: nil, webhookID: hook.id, destination: hook.url, subject: text.title,
                                       text: text.text, html: "", payload: webhookPayload(hook, event: event, space: space, text: text), createdAt: now()))
        }
        try await store.fanOut(event, inbox: inbox, deliveries: deliveries, now: now())
    }

    /// People who edited the notes during the meeting watch it from now on (unless they turned that
    /// off): written once at the end rather than with every keystroke's commit.
    func makeEditorsWatch(_ event: NotifyEvent) async throws {
        let editors = Set(try await store.noteEntries(meetingID: event.meetingID, after: 0, limit: Int.max).compactMap(\.userID))
        try await store.write(editors.map {
            .insert(Watch(userID: $0, kind: .meeting, targetID: event.meetingID, spaceID: event.spaceID, automatic: true, createdAt: event.at), ifAbsent: true)
        })
    }

    func webhookPayload(_ hook: Webhook, event: NotifyEvent, space: Space, text: NotificationText) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let link = baseURL + text.link
        switch hook.format {
        case .slack:
            // Slack's mrkdwn escapes &, < and >; the link goes in <url|title>.
            func escaped(_ s: String) -> String { s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;") }
            let body = ["text": "<\(link)|\(escaped(text.title))>\n\(escaped(String(text.text.prefix(2500))))"]
            return String(decoding: (try? encoder.encode(body)) ?? Data(), as: UTF8.self)
        case .generic:
            struct Body: Encodable {
                var event: String, id: String, space: String, title: String, text: String, url: String, at: String
            }
            let body = Body(event: event.kind.rawValue, id: event.id.uuidString.lowercased(), space: space.slug, title: text.title,
                            text: text.text, url: link, at: ISO8601DateFormatter().string(from: event.at))
            return String(decoding: (try? encoder.encode(body)) ?? Data(), as: UTF8.self)
        }
    }

    func email(key: String, to user: User, spaceID: UUID?, subject: String, text: String, html: String, link: String? = nil) async throws -> Delivery {
        let unsubscribe = baseURL + "/unsubscribe?token=" + (try await Unsubscribe.token(for: user.id, store: store))
        let footer = "\n\n-- \nYou get this because you watch it in Hourglass. Settings: \(baseURL)/settings/notifications\nUnsubscribe from email: \(unsubscribe)\n"
        let fullText = text + (link.map { "\n\n\(baseURL)\($0)" } ?? "") + footer
        let fullHTML = """
        <!DOCTYPE html><html><body>\(link.map { "<p><strong><a href=\"\(ArchiveExport.xml(baseURL + $0))\">\(ArchiveExport.xml(subject))</a></strong></p>" } ?? "")\(html)
        <hr><p style="color:#666;font-size:12px">You get this because you watch it in Hourglass. <a href="\(ArchiveExport.xml(baseURL))/settings/notifications">Settings</a> · <a href="\(ArchiveExport.xml(unsubscribe))">Unsubscribe from email</a></p></body></html>
        """
        let message = SMTPClient.message(from: configuration.smtp?.from ?? "hourglass@localhost", to: user.email, subject: subject, text: fullText,
                                         html: fullHTML, key: key, unsubscribe: unsubscribe, date: now())
        return Delivery(key: key, kind: .email, spaceID: spaceID, userID: user.id, webhookID: nil, destination: user.email, subject: subject,
                        text: fullText, html: fullHTML, payload: message, createdAt: now())
    }

    // MARK: Composing

    func compose(_ event: NotifyEvent, board: Board, space: Space, series: Series) async throws -> NotificationText? {
        let m = board.meeting
        let meetingPath = Paths.meeting(space.slug, series.slug, m.date)
        let where_ = "\(series.name) \(m.date)"
        let base: [(WatchKind, UUID)] = [(.space, space.id), (.series, series.id), (.meeting, m.id)]
        switch event.kind {
        case .comment:
            guard let id = event.commentID, let comment = try await store.comment(id: id) else { return nil }
            let topic = comment.topicID.flatMap { board.topic($0) }
            let on = topic.map { "“\($0.title)”" } ?? "the notes"
            let link = (topic.map { Paths.topic(space.slug, $0.id) } ?? meetingPath + "/comments") + "#comment-\(comment.id.uuidString.lowercased())"
            return NotificationText(title: "\(comment.authorName) commented on \(on) (\(where_))", text: comment.body,
                                    html: "<blockquote>\(ArchiveExport.xml(comment.body).replacingOccurrences(of: "\n", with: "<br>"))</blockquote>",
                                    link: link, actors: [comment.authorID], mentioned: Comment.mentions(in: comment.body),
                                    targets: base + (topic.map { [(.topic, $0.id)] } ?? []))
        case .notesReady:
            let topics = board.discussed + board.agenda
            let list = topics.map { "• " + ($0.tag.isEmpty ? "" : "[\($0.tag)] ") + $0.title }.joined(separator: "\n")
            return NotificationText(title: "Notes are ready: \(where_)", text: list.isEmpty ? "The meeting ended." : "Topics:\n" + list,
                                    html: "<ul>" + topics.map { "<li>\(ArchiveExport.xml($0.title))</li>" }.joined() + "</ul>",
                                    link: meetingPath, actors: [], mentioned: [], targets: base)
        case .notesChanged:
            guard let from = event.fromSeq, let to = event.toSeq else { return nil }
            let entries = try await store.noteEntries(meetingID: m.id, after: 0, limit: to)
            let revisions = NotesHistory.revisions(entries, from: from).reversed()
            guard !revisions.isEmpty else { return nil }
            var names: [UUID: String] = [:]
            for id in Set(revisions.compactMap(\.userID)) { names[id] = try await store.user(id: id)?.name }
            let editors = Set(revisions.compactMap(\.userID))
            var lines: [String] = [], items: [String] = []
            for r in revisions {
                let who = r.userID.flatMap { names[$0] } ?? "Someone"
                switch r.kind {
                case .created:
                    lines.append("\(who) added: \(r.after)")
                    items.append("<li>\(ArchiveExport.xml(who)) added: <ins>\(ArchiveExport.xml(r.after))</ins></li>")
                case .deleted:
                    lines.append("\(who) deleted a bullet")
                    items.append("<li>\(ArchiveExport.xml(who)) deleted a bullet</li>")
                case .moved:
                    lines.append("\(who) moved a bullet")
                    items.append("<li>\(ArchiveExport.xml(who)) moved a bullet</li>")
                case .edited:
                    let pieces = WordDiff.diff(r.before ?? "", r.after)
                    lines.append("\(who) edited: \(WordDiff.plain(pieces))")
                    items.append("<li>\(ArchiveExport.xml(who)) edited: " + pieces.map { piece in
                        switch piece {
                        case let .same(t): ArchiveExport.xml(t)
                        case let .added(t): "<ins>\(ArchiveExport.xml(t))</ins>"
                        case let .removed(t): "<del>\(ArchiveExport.xml(t))</del>"
                        }
                    }.joined() + "</li>")
                }
            }
            let who = editors.compactMap { names[$0] }.sorted().joined(separator: ", ")
            return NotificationText(title: "\(who.isEmpty ? "Notes" : who) changed the notes of \(where_)", text: lines.joined(separator: "\n"),
                                    html: "<ul>\(items.joined())</ul>", link: meetingPath + "/history", actors: editors.count == 1 ? editors : [],
                                    mentioned: [], targets: base)
        case .agenda, .reminder:
            let topics = board.agenda
            let list = topics.map { "• " + ($0.tag.isEmpty ? "" : "[\($0.tag)] ") + $0.title + " (\(board.votes(on: $0.id)) votes)" }.joined(separator: "\n")
            let title = event.kind == .agenda ? "New topics for \(where_)" : "\(series.name) starts soon (\(m.date))"
            return NotificationText(title: title, text: list.isEmpty ? "No topics yet: propose one." : "Agenda:\n" + list,
                                    html: "<ol>" + topics.map { "<li>\(ArchiveExport.xml($0.title))</li>" }.joined() + "</ol>",
                                    link: meetingPath, actors: [], mentioned: [], targets: [(.space, space.id), (.series, series.id), (.meeting, m.id)])
        }
    }

    // MARK: Delivery

    static let claimSeconds: TimeInterval = 30

    func deliverDue(webhooks: WebhookSender) async throws {
        for delivery in try await store.dueDeliveries(now: now(), limit: 20) {
            // Claimed for longer than an attempt can take (SMTP 20 s, webhooks 10 s): a worker that
            // dies mid-attempt leaves it to be retried once the claim runs out.
            guard try await store.claim(delivery, until: now().addingTimeInterval(Self.claimSeconds)) else { continue }
            do {
                switch delivery.kind {
                case .email:
                    guard let smtp = configuration.smtp else { throw DeliveryError.transient("No SMTP server is configured") }
                    try await SMTPClient(configuration: smtp).send(to: delivery.destination, message: delivery.payload)
                case .webhook:
                    guard let id = delivery.webhookID,
                          let hook = try await store.rows(Webhook.self, where: [.eq("id", .uuid(id))], order: [], limit: 1).first else {
                        throw DeliveryError.permanent("The webhook was removed")
                    }
                    try await webhooks.send(url: hook.url, body: delivery.payload, secret: hook.format == .generic ? hook.secret : nil)
                }
                try await store.markSent(delivery, now: now())
            } catch let error as DeliveryError {
                var failed = delivery
                if case .permanent = error { failed.attempts = Delivery.maxAttempts - 1 }
                logger.notice("Delivery \(delivery.key) failed: \(error)")
                try await store.markFailed(failed, error: error.description, now: now())
            } catch {
                try await store.markFailed(delivery, error: String(describing: error), now: now())
            }
        }
    }
}

extension Calendar {
    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        return calendar
    }()
}

/// Signed one-click unsubscribe links: the user id and an HMAC of it under the installation's secret.
enum Unsubscribe {
    static func token(for userID: UUID, store: any HourglassStore) async throws -> String {
        let secret = try await store.secret(named: "unsubscribe_secret")
        let id = userID.uuidString.lowercased()
        return id + "." + signature(id, secret: secret)
    }

    static func user(from token: String, store: any HourglassStore) async throws -> UUID? {
        let parts = token.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2, parts[0].count == 36, let id = UUID(uuidString: parts[0]) else { return nil }
        let secret = try await store.secret(named: "unsubscribe_secret")
        let expected = signature(parts[0], secret: secret)
        guard expected.utf8.count == parts[1].utf8.count,
              zip(expected.utf8, parts[1].utf8).reduce(0, { $0 | ($1.0 ^ $1.1) }) == 0 else { return nil }
        return id
    }

    static func signature(_ id: String, secret: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Data("unsubscribe:email:\(id)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
            .map { String(format: "%02x", $0) }.joined()
    }
}
