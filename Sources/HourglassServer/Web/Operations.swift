import Foundation
import HourglassCore
import HourglassStore
import Hummingbird

/// The operations behind both the forms and the JSON API, reading the same flat fields,
/// so the two doors validate and behave identically.
struct Operations: Sendable {
    let store: any HourglassStore
    let auth: Authenticator
    let now: @Sendable () -> Date

    func setUp(_ fields: [String: String]) async throws -> User {
        let token = fields["token"] ?? ""
        guard !token.isEmpty else { throw AppError(.badRequest, "The setup link is incomplete; copy it again from the server log") }
        let (user, hash) = try await auth.newAccount(name: fields["name"] ?? "", email: fields["email"] ?? "", password: fields["password"] ?? "")
        try await store.createFirstAdmin(user, passwordHash: hash, setupTokenHash: Authenticator.hash(token: token))
        var admin = user
        admin.isAdmin = true
        return admin
    }

    func signUp(_ fields: [String: String]) async throws -> User {
        let (user, hash) = try await auth.newAccount(name: fields["name"] ?? "", email: fields["email"] ?? "", password: fields["password"] ?? "")
        try await store.createUser(user, passwordHash: hash)
        return user
    }

    func createSpace(_ fields: [String: String], owner: User) async throws -> Space {
        let name = try Validate.text(fields["name"] ?? "", field: "name", max: 80)
        let rawSlug = (fields["slug"] ?? "").trimmingCharacters(in: .whitespaces)
        let slug = try Validate.slug(rawSlug.isEmpty ? Validate.slugify(name) : rawSlug)
        guard !["new", "api", "public"].contains(slug) else { throw ValidationError("slug", "\"\(slug)\" is reserved; choose another") }
        let description = try Validate.text(fields["description"] ?? "", field: "description", max: 2000, allowEmpty: true, multiline: true)
        guard let visibility = Visibility(rawValue: fields["visibility"] ?? "public") else {
            throw ValidationError("visibility", "must be public or private")
        }
        let space = Space(slug: slug, name: name, description: description, visibility: visibility, createdAt: now())
        try await store.createSpace(space, owner: owner.id)
        return space
    }

    func setMember(_ fields: [String: String], context: AppRequestContext) async throws -> Member {
        let access = try context.requireAccess()
        guard access.canManage else { throw AppError(.forbidden, "Only an owner of this space can change its members") }
        let email = try Validate.email(fields["email"] ?? "")
        guard let role = SpaceRole(rawValue: fields["role"] ?? "member") else { throw ValidationError("role", "must be member, facilitator or owner") }
        guard let user = try await store.user(email: email) else {
            throw AppError(.notFound, "Nobody has signed up with \(email) yet; ask them to sign up first")
        }
        try await store.setMembership(Membership(spaceID: access.space.id, userID: user.id, role: role))
        return Member(user: user, role: role)
    }

    func removeMember(_ rawID: String, context: AppRequestContext) async throws {
        let access = try context.requireAccess()
        guard access.canManage else { throw AppError(.forbidden, "Only an owner of this space can change its members") }
        guard let id = UUID(uuidString: rawID) else { throw AppError(.notFound, "No such member") }
        guard id != context.user?.id else { throw AppError(.conflict, "You cannot remove yourself; ask another owner") }
        try await store.removeMembership(spaceID: access.space.id, userID: id)
    }

    struct CreatedSeries {
        var spaceSlug: String
        var series: Series
    }

    func createSeries(_ fields: [String: String], context: AppRequestContext) async throws -> CreatedSeries {
        let access = try context.requireAccess()
        _ = try context.requireUser()
        guard access.canFacilitate else { throw AppError(.forbidden, "Only facilitators and owners can create a series") }
        let name = try Validate.text(fields["name"] ?? "", field: "name", max: 80)
        let rawSlug = (fields["slug"] ?? "").trimmingCharacters(in: .whitespaces)
        let slug = try Validate.slug(rawSlug.isEmpty ? Validate.slugify(name) : rawSlug)
        guard !Series.reservedSlugs.contains(slug) else { throw ValidationError("slug", "\"\(slug)\" is reserved; choose another") }
        let description = try Validate.text(fields["description"] ?? "", field: "description", max: 5000, allowEmpty: true, multiline: true)
        let time = try time(fields)
        let schedule = try Schedule(weekday: try int(fields, "weekday", default: 3), hour: time.hour,
                                    minute: time.minute, timeZone: (fields["timeZone"] ?? "UTC").trimmingCharacters(in: .whitespaces),
                                    durationMinutes: try int(fields, "durationMinutes", default: 60)).validated()
        let defaults = SeriesSettings()
        let steps = try (fields["extensionSteps"] ?? "5, 5").split(whereSeparator: { $0 == "," || $0 == " " }).map { part in
            guard let value = Int(part) else { throw ValidationError("extensionSteps", "must be minutes separated by commas, e.g. 5, 5") }
            return value
        }
        let tags = (fields["tags"] ?? defaults.tags.joined(separator: ",")).split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
        let settings = try SeriesSettings(
            timeBoxMinutes: try int(fields, "timeBoxMinutes", default: defaults.timeBoxMinutes), extensionSteps: steps,
            votesPerParticipant: try int(fields, "votesPerParticipant", default: defaults.votesPerParticipant),
            maxVotesPerTopic: try int(fields, "maxVotesPerTopic", default: defaults.maxVotesPerTopic), tags: tags,
            revoteSeconds: try int(fields, "revoteSeconds", default: defaults.revoteSeconds)).validated()
        let series = Series(spaceID: access.space.id, slug: slug, name: name, description: description,
                            schedule: schedule, settings: settings, createdAt: now())
        try await store.createSeries(series, firstMeeting: series.newMeeting(after: now(), now: now()))
        return CreatedSeries(spaceSlug: access.space.slug, series: series)
    }

    func addMeeting(_ fields: [String: String], context: AppRequestContext) async throws -> (Series, Meeting) {
        let access = try context.requireAccess()
        _ = try context.requireUser()
        guard access.canFacilitate else { throw AppError(.forbidden, "Only facilitators and owners can add meetings") }
        let series = try await Resolver(store: store).series(context)
        guard let date = LocalDate(fields["date"] ?? "") else { throw ValidationError("date", "must be a date like 2022-12-14") }
        let occurrence = series.schedule.occurrence(on: date)
        let meeting = Meeting(seriesID: series.id, spaceID: access.space.id, date: date, startsAt: occurrence.startsAt)
        try await store.createMeeting(meeting)
        return (series, meeting)
    }

    private func int(_ fields: [String: String], _ name: String, default value: Int) throws -> Int {
        guard let raw = fields[name]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return value }
        guard let number = Int(raw) else { throw ValidationError(name, "must be a whole number") }
        return number
    }

    private func time(_ fields: [String: String]) throws -> (hour: Int, minute: Int) {
        let parts = (fields["time"] ?? "14:00").split(separator: ":")
        guard parts.count == 2, let hour = Int(parts[0]), let minute = Int(parts[1]) else {
            throw ValidationError("time", "must be a time of day such as 14:00")
        }
        return (hour, minute)
    }
}
