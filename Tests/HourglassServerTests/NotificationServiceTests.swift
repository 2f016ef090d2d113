import AsyncHTTPClient
import Foundation
import HourglassCore
import HourglassStore
import Logging
import Testing
@testable import HourglassServer

@Suite struct NotificationServiceTests {
    /// A store with an ended meeting, a watcher of it and an editor.
    static func seeded(_ clock: TestClock) async throws -> (any HourglassStore, Meeting, User, User) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hourglass-notify-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let store = try SQLiteStore(path: directory + "/hourglass.sqlite")
        let owner = User(email: "o@example.org", name: "Olga Owner", createdAt: clock.now)
        let watcher = User(email: "w@example.org", name: "Wes Watcher", createdAt: clock.now)
        let editor = User(email: "e@example.org", name: "Eda Editor", createdAt: clock.now)
        for user in [owner, watcher, editor] { try await store.createUser(user, passwordHash: "x") }
        let space = Space(slug: "arch", name: "Arch", visibility: .public, createdAt: clock.now)
        try await store.createSpace(space, owner: owner.id)
        let series = Series(spaceID: space.id, slug: "weekly", name: "Weekly",
                            schedule: Schedule(weekday: 3, hour: 14, minute: 0, timeZone: "UTC"), createdAt: clock.now)
        let meeting = series.newMeeting(after: clock.now, now: clock.now)
        try await store.createSeries(series, firstMeeting: meeting)
        _ = try await store.apply(.endMeeting, by: Actor(userID: owner.id, name: owner.name, canFacilitate: true),
                                  spaceID: space.id, meetingID: meeting.id, now: clock.now)
        try await store.watch(userID: watcher.id, .meeting, meeting.id, spaceID: space.id, now: clock.now)
        return (store, meeting, watcher, editor)
    }

    @Test func editsAfterTheMeetingWaitForTheQuietPeriodOfTheInjectedClock() async throws {
        let clock = TestClock()
        let (store, meeting, watcher, editor) = try await Self.seeded(clock)
        let service = NotificationService(store: store, configuration: NotifyConfiguration(quietPeriod: 600), baseURL: "http://h",
                                          now: { clock.now }, logger: Logger(label: "test"))
        try await service.fanOutPending()  // "notes are ready"
        #expect(try await store.inbox(userID: watcher.id, limit: 10).map(\.title) == ["Notes are ready: Weekly \(meeting.date)"])
        _ = try await store.commitNotes(spaceID: meeting.spaceID, meetingID: meeting.id, knownSeq: 0) { _ in
            NotesCommit(entries: [NoteEntry(seq: 1, client: "c", clientSeq: 1, userID: editor.id,
                                            change: .create(bullet: "b", parent: "meeting", order: "V", text: "Decided: Kafka"), at: clock.now)],
                        bullets: [Bullet(id: "b", parent: "meeting", order: "V", text: "Decided: Kafka")])
        }
        clock.advance(599)
        try await service.closeQuietDigests()
        #expect(try await store.pendingEvents(limit: 10).isEmpty, "sent before the notes were quiet")
        clock.advance(2)
        try await service.closeQuietDigests()
        try await service.fanOutPending()
        let items = try await store.inbox(userID: watcher.id, limit: 10)
        #expect(items.first?.title == "Eda Editor changed the notes of Weekly \(meeting.date)")
        #expect(items.first?.body == "Eda Editor added: Decided: Kafka")
        #expect(items.first?.link.hasSuffix("/history") == true)
        // The only editor is not told about their own edits (they watch the meeting by editing it).
        #expect(try await store.watchState(userID: editor.id, .meeting, meeting.id) != nil)
        #expect(try await store.inbox(userID: editor.id, limit: 10).isEmpty)
    }

    @Test func anSMTPServerThatIsDownIsATransientFailure() async throws {
        let client = SMTPClient(configuration: SMTPConfiguration(host: "127.0.0.1", port: 1, from: "h@example.org"), timeout: .seconds(5))
        await #expect {
            try await client.send(to: "a@example.org", message: "Subject: x\r\n\r\nbody")
        } throws: { error in
            guard case .transient = error as? DeliveryError else { return false }
            return true
        }
        await #expect(throws: DeliveryError.self) { try await client.send(to: "not an address", message: "") }
    }

    @Test func aHangingWebhookTimesOutAndIsRetriedLater() async throws {
        // A listener that accepts connections and never answers.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        listen(fd, 4)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let sender = WebhookSender(client: client, allowPrivate: true, timeout: .seconds(1))
        let started = Date()
        await #expect {
            try await sender.send(url: "http://127.0.0.1:\(port)/hook", body: "{}", secret: "s")
        } throws: { error in
            guard case .transient = error as? DeliveryError else { return false }
            return true
        }
        #expect(Date().timeIntervalSince(started) < 5)
        try await client.shutdown()
    }
}
