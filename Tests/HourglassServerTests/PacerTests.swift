import Foundation
import Testing
@testable import HourglassServer

@Suite struct PacerTests {
    /// Counts runs; the pacer's actions run on other tasks.
    actor Runs {
        var count = 0
        func add() { count += 1 }
    }

    @Test func requestsWithinTheIntervalRunOnceAndLaterOnesRunAgain() async throws {
        // A long interval, so a loaded machine cannot make the first check race the first run.
        let pacer = Pacer(interval: .seconds(1))
        let runs = Runs()
        let meeting = UUID(), other = UUID()
        for _ in 0..<50 { await pacer.request(meeting) { await runs.add() } }
        await pacer.request(other) { await runs.add() }
        #expect(await runs.count == 0, "nothing runs before the interval")
        try await Task.sleep(for: .seconds(2))
        #expect(await runs.count == 2, "one run per key for 51 requests")
        await pacer.request(meeting) { await runs.add() }
        try await Task.sleep(for: .seconds(2))
        #expect(await runs.count == 3, "a request after the run schedules another")
    }

    @Test func runsForOneKeyNeverOverlap() async throws {
        let pacer = Pacer(interval: .milliseconds(10))
        let log = Log()
        let meeting = UUID()
        // The first run takes longer than the interval; a request during it runs after it.
        await pacer.request(meeting) {
            await log.add("start 1")
            try? await Task.sleep(for: .milliseconds(300))
            await log.add("end 1")
        }
        try await until { await log.lines == ["start 1"] }
        await pacer.request(meeting) { await log.add("run 2") }
        try await until { await log.lines.count == 3 }
        #expect(await log.lines == ["start 1", "end 1", "run 2"])
    }

    /// Waits (at most 10 s) until `condition` holds.
    private func until(_ condition: () async -> Bool) async throws {
        for _ in 0..<1000 where await !condition() { try await Task.sleep(for: .milliseconds(10)) }
    }

    actor Log {
        var lines: [String] = []
        func add(_ line: String) { lines.append(line) }
    }
}
