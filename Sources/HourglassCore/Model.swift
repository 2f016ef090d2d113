import Foundation

/// Who may read a space: anyone (`public`) or its members only (`private`).
public enum Visibility: String, Codable, Sendable, CaseIterable {
    case `public`
    case `private`
}

/// A member's role in a space. Facilitators run meetings; owners also manage the space.
public enum SpaceRole: String, Codable, Sendable, CaseIterable, Comparable {
    case member
    case facilitator
    case owner

    private var rank: Int {
        switch self {
        case .member: 0
        case .facilitator: 1
        case .owner: 2
        }
    }

    public static func < (lhs: SpaceRole, rhs: SpaceRole) -> Bool { lhs.rank < rhs.rank }
}

/// A registered person.
public struct User: Codable, Sendable, Equatable, Identifiable {
    public var id: UUID
    public var email: String
    public var name: String
    public var isAdmin: Bool
    public var createdAt: Date

    public init(id: UUID = UUID(), email: String, name: String, isAdmin: Bool = false, createdAt: Date) {
        self.id = id
        self.email = email
        self.name = name
        self.isAdmin = isAdmin
        self.createdAt = createdAt
    }
}

/// A place where a team runs its meetings, e.g. "Architecture Hour".
public struct Space: Codable, Sendable, Equatable, Identifiable {
    public var id: UUID
    public var slug: String
    public var name: String
    public var description: String
    public var visibility: Visibility
    public var createdAt: Date

    public init(id: UUID = UUID(), slug: String, name: String, description: String = "", visibility: Visibility, createdAt: Date) {
        self.id = id
        self.slug = slug
        self.name = name
        self.description = description
        self.visibility = visibility
        self.createdAt = createdAt
    }
}

/// A person's membership of a space.
public struct Membership: Codable, Sendable, Equatable {
    public var spaceID: UUID
    public var userID: UUID
    public var role: SpaceRole

    public init(spaceID: UUID, userID: UUID, role: SpaceRole) {
        self.spaceID = spaceID
        self.userID = userID
        self.role = role
    }
}

/// What a caller may do in a space, decided once per request.
public struct SpaceAccess: Sendable, Equatable {
    public var space: Space
    /// The caller's role, or nil for a reader who is not a member (public spaces only).
    public var role: SpaceRole?
    public var isAdmin: Bool

    public init(space: Space, role: SpaceRole?, isAdmin: Bool = false) {
        self.space = space
        self.role = role
        self.isAdmin = isAdmin
    }

    /// Resolves access for a caller, or nil when the space must look as if it did not exist.
    public static func resolve(space: Space, user: User?, membership: Membership?) -> SpaceAccess? {
        let role = membership?.role
        let isAdmin = user?.isAdmin ?? false
        guard space.visibility == .public || role != nil || isAdmin else { return nil }
        return SpaceAccess(space: space, role: role, isAdmin: isAdmin)
    }

    /// Signed-in people may take part in public spaces; private spaces need membership.
    public func canParticipate(signedIn: Bool) -> Bool {
        guard signedIn else { return false }
        return role != nil || isAdmin || space.visibility == .public
    }

    public var canFacilitate: Bool { isAdmin || (role ?? .member) >= .facilitator }
    public var canManage: Bool { isAdmin || role == .owner }
}
