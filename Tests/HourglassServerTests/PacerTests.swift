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
        let pacer = Pacer(interval: .milliseconds(100))
        let runs = Runs()
        let meeting = UUID(), other = UUID()
        for _ in 0..<50 { await pacer.request(meeting) { await runs.add() } }
        await pacer.request(other) { await runs.add() }
        #expect(await runs.count == 0, "nothing runs before the interval")
        try await Task.sleep(for: .milliseconds(400))
        #expect(await runs.count == 2, "one run per key for 51 requests")
        await pacer.request(meeting) { await runs.add() }
        try await Task.sleep(for: .milliseconds(400))
        #expect(await runs.count == 3, "a request after the run schedules another")
    }
}
