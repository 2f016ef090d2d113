import Foundation
import HourglassCore

/// Why the store refused a write, with a message fit for the person who asked.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A unique value is taken (an email, a slug, a meeting date).
    case duplicate(String)
    /// The thing to change does not exist (or is not visible to the caller).
    case notFound(String)
    /// The setup link was already used, or is wrong.
    case setupClosed

    public var description: String {
        switch self {
        case let .duplicate(message), let .notFound(message): message
        case .setupClosed: "This setup link has been used already; sign in instead"
        }
    }
}

/// A person's account as the store keeps it: the public profile and the bcrypt hash.
public struct Credentials: Sendable {
    public var user: User
    public var passwordHash: String

    public init(user: User, passwordHash: String) {
        self.user = user
        self.passwordHash = passwordHash
    }
}

/// A member of a space, with the person's profile.
public struct Member: Sendable, Equatable {
    public var user: User
    public var role: SpaceRole

    public init(user: User, role: SpaceRole) {
        self.user = user
        self.role = role
    }
}

/// Persistence for everything Hourglass keeps. Every read of space content takes the space id,
/// so a query can never reach into another space; callers resolve access before calling.
public protocol HourglassStore: Sendable {
    // MARK: Accounts
    func userCount() async throws -> Int
    func createUser(_ user: User, passwordHash: String) async throws
    /// Creates the first administrator if `setupTokenHash` matches the pending setup token,
    /// consuming it in the same transaction, so only one person can ever use a setup link.
    func createFirstAdmin(_ user: User, passwordHash: String, setupTokenHash: String) async throws
    /// Stores the hash of the one-time setup token (replacing an unused one).
    func setSetupToken(hash: String) async throws
    /// Whether a setup link is waiting to be used (an administrator created another way closes it).
    func hasPendingSetupToken() async throws -> Bool
    func user(id: UUID) async throws -> User?
    func user(email: String) async throws -> User?
    func credentials(email: String) async throws -> Credentials?
    /// Opens a session and purges the ones that expired before `now`.
    func createSession(tokenHash: String, userID: UUID, expiresAt: Date, now: Date) async throws
    func user(sessionTokenHash: String, now: Date) async throws -> User?
    func deleteSession(tokenHash: String) async throws

    // MARK: Spaces
    func createSpace(_ space: Space, owner: UUID) async throws
    func space(slug: String) async throws -> Space?
    /// Public spaces, plus private ones the user is a member of (all of them for an admin).
    func spaces(visibleTo user: User?) async throws -> [Space]
    func updateSpace(_ space: Space) async throws
    func membership(spaceID: UUID, userID: UUID) async throws -> Membership?
    func members(spaceID: UUID) async throws -> [Member]
    func setMembership(_ membership: Membership) async throws
    func removeMembership(spaceID: UUID, userID: UUID) async throws

    // MARK: Series and meetings
    /// Creates a series together with its first upcoming meeting.
    func createSeries(_ series: Series, firstMeeting: Meeting) async throws
    func series(spaceID: UUID) async throws -> [Series]
    func series(spaceID: UUID, slug: String) async throws -> Series?
    func updateSeries(_ series: Series) async throws
    /// Meetings of a series, newest first.
    func meetings(spaceID: UUID, seriesID: UUID) async throws -> [Meeting]
    func createMeeting(_ meeting: Meeting) async throws
    func meeting(spaceID: UUID, seriesID: UUID, date: LocalDate) async throws -> Meeting?
    func board(spaceID: UUID, meetingID: UUID) async throws -> Board?
    /// Applies a command to a meeting in one transaction and returns every board it changed,
    /// each with its sequence number incremented (ending or skipping a meeting also changes the
    /// next meeting of its series, which receives the undiscussed topics). Nothing changes on error.
    func apply(_ command: BoardCommand, by actor: Actor?, spaceID: UUID, meetingID: UUID, now: Date) async throws -> [Board]
    /// Live meetings with a running clock, for the timer service.
    func pendingDeadlines() async throws -> [MeetingDeadline]

    // MARK: Notes
    /// The meeting's notes as committed: every bullet, the notes sequence number, and the last
    /// sequence number applied per client (to skip a change sent twice).
    func notes(meetingID: UUID) async throws -> NotesState
    /// Commits notes changes in one transaction. `decide` receives the entries other writers
    /// committed after `knownSeq` (usually none) and returns what to append; the entries are
    /// written to the op log and the bullets they touched are saved before this returns.
    func commitNotes(spaceID: UUID, meetingID: UUID, knownSeq: Int,
                     _ decide: @Sendable ([NoteEntry]) throws -> NotesCommit) async throws -> NotesCommit
    /// Entries of the op log after `seq`, oldest first, at most `limit`.
    func noteEntries(meetingID: UUID, after seq: Int, limit: Int) async throws -> [NoteEntry]
    /// The text operations applied to a bullet from revision `fromRev` on, oldest first.
    func textHistory(meetingID: UUID, bullet: String, fromRev: Int) async throws -> [TextOperation]

    // MARK: Search
    /// Topics and notes bullets matching all the terms, best first, only in `filter.spaceIDs`.
    func search(_ terms: SearchTerms, filter: SearchFilter) async throws -> [SearchHit]

    // MARK: Archive
    /// Every topic of a space (withdrawn ones left out) with its meeting's series and date, oldest first.
    func topicIndex(spaceID: UUID) async throws -> [TopicRef]
    /// How many topics each of these meetings has (withdrawn ones not counted).
    func topicCounts(spaceID: UUID, meetingIDs: [UUID]) async throws -> [UUID: Int]
    /// Bullets of a space marked as action items (open or done), oldest meeting first.
    func actionBullets(spaceID: UUID) async throws -> [ActionBullet]

    // MARK: Rows
    /// Rows of a table matching every filter (the generic access `NotifyStore` is built on).
    func rows<R: StoredRow>(_ type: R.Type, where filters: [RowFilter], order: [(String, Bool)], limit: Int?) async throws -> [R]
    func count(_ table: String, where filters: [RowFilter]) async throws -> Int
    /// Applies the writes in one transaction and returns how many rows each one changed.
    @discardableResult
    func write(_ writes: [RowWrite]) async throws -> [Int]

    // MARK: Presence across instances
    /// Records who has a meeting open on one server instance (an empty list removes the row).
    /// On PostgreSQL this also tells the other instances to re-read the meeting's presence.
    func savePresence(instanceID: UUID, spaceID: UUID, meetingID: UUID, names: [String], now: Date) async throws
    /// Names present on other instances, from rows refreshed since `freshSince`.
    func presence(meetingID: UUID, excluding instanceID: UUID, freshSince: Date) async throws -> [String]

    // MARK: Whole installation
    /// Everything stored, for `migrate-data`.
    func exportSnapshot() async throws -> StoreSnapshot
    /// Writes a snapshot into this store in one transaction; refuses a store that has accounts or spaces.
    func importSnapshot(_ snapshot: StoreSnapshot) async throws
    /// Adds a space's content (series, meetings, topics, votes, notes) in one transaction: series
    /// rows are written as given, every other row only if its key is not there yet, so merging the
    /// same content twice changes nothing. Returns how many rows of each table were written;
    /// `progress` hears (rows done, rows in all) every thousand rows.
    func merge(_ content: StoreSnapshot, progress: (@Sendable (Int, Int) -> Void)?) async throws -> [String: Int]
}

/// When a live meeting's clock next needs the server's attention.
public struct MeetingDeadline: Sendable, Equatable {
    public var spaceID: UUID
    public var meetingID: UUID
    public var deadline: Date

    public init(spaceID: UUID, meetingID: UUID, deadline: Date) {
        self.spaceID = spaceID
        self.meetingID = meetingID
        self.deadline = deadline
    }
}
