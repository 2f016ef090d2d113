import Foundation
import HourglassCore
import HourglassStore
import Logging
import ServiceLifecycle

/// Shares who is here between server instances on one PostgreSQL database: each instance writes
/// its own list per meeting (and NOTIFY tells the others to re-read), refreshing it every
/// `heartbeat` so that the lists of an instance that died simply go stale and drop out.
struct PresenceRelay: Sendable {
    let store: any HourglassStore
    let hub: MeetingHub
    let instanceID = UUID()
    let now: @Sendable () -> Date
    let logger: Logger
    static let heartbeat: Duration = .seconds(10)
    static let staleAfter: TimeInterval = 30
    /// Joins and leaves of a meeting are shared at most once a second: a thousand people
    /// arriving write this instance's list once or twice, not a thousand times.
    let pacer = Pacer(interval: .seconds(1))

    /// Shares this instance's list for a meeting and re-reads the others' soon (see `pacer`).
    func shareSoon(spaceID: UUID, meetingID: UUID) async {
        await pacer.request(meetingID) {
            await publish(spaceID: spaceID, meetingID: meetingID)
            await refresh(meetingID: meetingID)
        }
    }

    /// Writes this instance's list for a meeting after someone joined or left.
    func publish(spaceID: UUID, meetingID: UUID) async {
        let entries = await hub.localEntries(meetingID: meetingID)
        do {
            try await store.savePresence(instanceID: instanceID, spaceID: spaceID, meetingID: meetingID, names: entries, now: now())
        } catch {
            logger.warning("Could not share presence", metadata: ["meeting": "\(meetingID)", "error": "\(error)"])
        }
    }

    /// Re-reads the lists other instances wrote for a meeting.
    func refresh(meetingID: UUID) async {
        guard let entries = try? await store.presence(meetingID: meetingID, excluding: instanceID,
                                                      freshSince: now() - Self.staleAfter) else { return }
        await hub.setRemote(meetingID: meetingID, entries: entries)
    }
}

/// Keeps this instance's presence rows fresh and re-reads everyone else's.
struct PresenceHeartbeat: Service {
    let relay: PresenceRelay

    func run() async throws {
        // Shutdown cancels the sleep, so the service ends at once.
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                for (spaceID, meetingID) in await relay.hub.openMeetings() {
                    await relay.publish(spaceID: spaceID, meetingID: meetingID)
                    await relay.refresh(meetingID: meetingID)
                }
                try await Task.sleep(for: PresenceRelay.heartbeat)
            }
        }
    }
}
