/// The OpenAPI 3.1 description of the JSON API, served at `/openapi.json`.
enum OpenAPI {
    static let document = #"""
{
  "openapi": "3.1.0",
  "info": {
    "title": "Hourglass API",
    "version": "1.0.0",
    "description": "Run Lean Coffee meetings: spaces, series, meetings, topics, dot votes and shared time boxes. Authenticate with the session cookie set by sign-in, or send the returned token as `Authorization: Bearer <token>`. Every error is problem JSON (RFC 9457). Anything in a private space answers 404 to non-members. Live updates: see docs/protocol.md (WebSocket at .../live)."
  },
  "paths": {
    "/healthz": {"get": {"summary": "Liveness", "responses": {"200": {"description": "The process is up", "content": {"text/plain": {}}}}}},
    "/readyz": {"get": {"summary": "Readiness (database reachable)", "responses": {"200": {"description": "Ready", "content": {"text/plain": {}}}}}},
    "/api/setup": {"post": {"summary": "Create the first administrator with the one-time setup token", "requestBody": {"$ref": "#/components/requestBodies/Setup"},
      "responses": {"201": {"$ref": "#/components/responses/Session"}, "410": {"$ref": "#/components/responses/Problem"}, "422": {"$ref": "#/components/responses/Problem"}}}},
    "/api/signup": {"post": {"summary": "Create an account and sign in", "requestBody": {"$ref": "#/components/requestBodies/Signup"},
      "responses": {"201": {"$ref": "#/components/responses/Session"}, "409": {"$ref": "#/components/responses/Problem"}, "422": {"$ref": "#/components/responses/Problem"}}}},
    "/api/signin": {"post": {"summary": "Sign in (a new session id every time)", "requestBody": {"$ref": "#/components/requestBodies/Signin"},
      "responses": {"200": {"$ref": "#/components/responses/Session"}, "401": {"$ref": "#/components/responses/Problem"}}}},
    "/api/signout": {"post": {"summary": "End the current session", "responses": {"204": {"description": "Signed out"}}}},
    "/api/search": {"get": {"summary": "Search topics and notes of every space you may read (words, \"phrases\", prefix*)",
      "parameters": [{"name": "q", "in": "query", "required": true, "schema": {"type": "string", "maxLength": 1000}},
        {"name": "space", "in": "query", "schema": {"type": "string"}}, {"name": "series", "in": "query", "schema": {"type": "string"}},
        {"name": "tag", "in": "query", "schema": {"type": "string"}}, {"name": "proposer", "in": "query", "schema": {"type": "string"}},
        {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}}, {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}}],
      "responses": {"200": {"description": "Hits, best first; snippets mark matches with U+0002 … U+0003", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/SearchResult"}}}}},
        "400": {"$ref": "#/components/responses/Problem"}, "404": {"$ref": "#/components/responses/Problem"}, "422": {"$ref": "#/components/responses/Problem"}}}},
    "/api/me": {"get": {"summary": "The signed-in person", "responses": {"200": {"description": "You", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/User"}}}}, "401": {"$ref": "#/components/responses/Problem"}}}},
    "/api/spaces": {
      "get": {"summary": "Spaces you can see", "responses": {"200": {"description": "Spaces", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/SpaceView"}}}}}}},
      "post": {"summary": "Create a space (you become its owner)", "requestBody": {"$ref": "#/components/requestBodies/NewSpace"},
        "responses": {"201": {"description": "Created", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SpaceView"}}}}, "401": {"$ref": "#/components/responses/Problem"}, "409": {"$ref": "#/components/responses/Problem"}, "422": {"$ref": "#/components/responses/Problem"}}}
    },
    "/api/spaces/{space}": {"parameters": [{"$ref": "#/components/parameters/space"}],
      "get": {"summary": "A space with its series", "responses": {"200": {"description": "The space", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SpaceView"}}}}, "404": {"$ref": "#/components/responses/Problem"}}}},
    "/api/spaces/{space}/members": {"parameters": [{"$ref": "#/components/parameters/space"}],
      "get": {"summary": "Members (members only)", "responses": {"200": {"description": "Members", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Member"}}}}}, "403": {"$ref": "#/components/responses/Problem"}, "404": {"$ref": "#/components/responses/Problem"}}},
      "post": {"summary": "Add a member or change their role (owners only)", "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["email"], "properties": {"email": {"type": "string"}, "role": {"$ref": "#/components/schemas/Role"}}}}}},
        "responses": {"200": {"description": "The member", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Member"}}}}, "403": {"$ref": "#/components/responses/Problem"}, "404": {"$ref": "#/components/responses/Problem"}, "422": {"$ref": "#/components/responses/Problem"}}}},
    "/api/spaces/{space}/members/{user}": {"parameters": [{"$ref": "#/components/parameters/space"}, {"name": "user", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
      "delete": {"summary": "Remove a member (owners only)", "responses": {"204": {"description": "Removed"}, "403": {"$ref": "#/components/responses/Problem"}, "404": {"$ref": "#/components/responses/Problem"}}}},
    "/api/spaces/{space}/series": {"parameters": [{"$ref": "#/components/parameters/space"}],
      "get": {"summary": "Series of a space", "responses": {"200": {"description": "Series", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Series"}}}}}, "404": {"$ref": "#/components/responses/Problem"}}},
      "post": {"summary": "Create a recurring series and its first meeting (facilitators)", "requestBody": {"$ref": "#/components/requestBodies/NewSeries"},
        "responses": {"201": {"description": "Created", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Series"}}}}, "403": {"$ref": "#/components/responses/Problem"}, "409": {"$ref": "#/components/responses/Problem"}, "422": {"$ref": "#/components/responses/Problem"}}}},
    "/api/spaces/{space}/series/{series}": {"parameters": [{"$ref": "#/components/parameters/space"}, {"$ref": "#/components/parameters/series"}],
      "get": {"summary": "A series with its meetings, newest first", "responses": {"200": {"description": "The series", "content": {"application/json": {"schema": {"type": "object", "properties": {"series": {"$ref": "#/components/schemas/Series"}, "meetings": {"type": "array", "items": {"$ref": "#/components/schemas/MeetingSummary"}}}}}}}, "404": {"$ref": "#/components/responses/Problem"}}}},
    "/api/spaces/{space}/series/{series}/meetings": {"parameters": [{"$ref": "#/components/parameters/space"}, {"$ref": "#/components/parameters/series"}],
      "post": {"summary": "Add a meeting on a date (facilitators)", "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["date"], "properties": {"date": {"type": "string", "format": "date"}}}}}},
        "responses": {"201": {"description": "Created", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/MeetingSummary"}}}}, "409": {"$ref": "#/components/responses/Problem"}, "422": {"$ref": "#/components/responses/Problem"}}}},
    "/api/spaces/{space}/series/{series}/meetings/{date}": {"parameters": [{"$ref": "#/components/parameters/space"}, {"$ref": "#/components/parameters/series"}, {"$ref": "#/components/parameters/date"}],
      "get": {"summary": "The meeting board as you see it", "responses": {"200": {"$ref": "#/components/responses/Board"}, "404": {"$ref": "#/components/responses/Problem"}}}},
    "/api/spaces/{space}/series/{series}/meetings/{date}/commands": {"parameters": [{"$ref": "#/components/parameters/space"}, {"$ref": "#/components/parameters/series"}, {"$ref": "#/components/parameters/date"}],
      "post": {"summary": "Apply a board command (propose, vote, time boxes…); the same commands the WebSocket takes",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Command"}}, "application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/Command"}}}},
        "responses": {"200": {"$ref": "#/components/responses/Board"}, "400": {"$ref": "#/components/responses/Problem"}, "401": {"$ref": "#/components/responses/Problem"}, "403": {"$ref": "#/components/responses/Problem"}, "404": {"$ref": "#/components/responses/Problem"}, "409": {"$ref": "#/components/responses/Problem"}, "413": {"$ref": "#/components/responses/Problem"}, "422": {"$ref": "#/components/responses/Problem"}}}},
    "/api/spaces/{space}/series/{series}/meetings/{date}/notes": {"parameters": [{"$ref": "#/components/parameters/space"}, {"$ref": "#/components/parameters/series"}, {"$ref": "#/components/parameters/date"}],
      "get": {"summary": "The meeting's notes as stored (edit them over the WebSocket; Markdown at /s/{space}/{series}/{date}/notes.md)",
        "responses": {"200": {"description": "Every bullet (deleted ones too) and the notes sequence number", "content": {"application/json": {"schema": {"type": "object", "properties": {"seq": {"type": "integer"}, "bullets": {"type": "array", "items": {"$ref": "#/components/schemas/Bullet"}}}}}}},
          "404": {"$ref": "#/components/responses/Problem"}}}},
    "/api/spaces/{space}/series/{series}/meetings/{date}/live": {"parameters": [{"$ref": "#/components/parameters/space"}, {"$ref": "#/components/parameters/series"}, {"$ref": "#/components/parameters/date"}],
      "get": {"summary": "WebSocket upgrade: live board frames and commands (docs/protocol.md)", "responses": {"101": {"description": "Switching protocols"}, "404": {"$ref": "#/components/responses/Problem"}}}}
  },
  "components": {
    "parameters": {
      "space": {"name": "space", "in": "path", "required": true, "schema": {"type": "string"}, "description": "Space slug"},
      "series": {"name": "series", "in": "path", "required": true, "schema": {"type": "string"}, "description": "Series slug"},
      "date": {"name": "date", "in": "path", "required": true, "schema": {"type": "string", "format": "date"}, "description": "Meeting date, e.g. 2022-12-14"}
    },
    "requestBodies": {
      "Setup": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["token", "name", "email", "password"], "properties": {"token": {"type": "string"}, "name": {"type": "string"}, "email": {"type": "string"}, "password": {"type": "string", "minLength": 8}}}}}},
      "Signup": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["name", "email", "password"], "properties": {"name": {"type": "string", "maxLength": 80}, "email": {"type": "string"}, "password": {"type": "string", "minLength": 8}}}}}},
      "Signin": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["email", "password"], "properties": {"email": {"type": "string"}, "password": {"type": "string"}}}}}},
      "NewSpace": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "slug": {"type": "string"}, "description": {"type": "string"}, "visibility": {"type": "string", "enum": ["public", "private"]}}}}}},
      "NewSeries": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"}, "slug": {"type": "string"}, "description": {"type": "string"},
        "weekday": {"type": "string", "description": "1 = Monday … 7 = Sunday"}, "time": {"type": "string", "example": "14:00"}, "timeZone": {"type": "string", "example": "America/New_York"},
        "durationMinutes": {"type": "string"}, "timeBoxMinutes": {"type": "string", "example": "10"}, "extensionSteps": {"type": "string", "example": "5, 5"},
        "votesPerParticipant": {"type": "string", "example": "3"}, "maxVotesPerTopic": {"type": "string", "example": "3"}, "tags": {"type": "string", "example": "inform, ideation, analysis, quest"}, "revoteSeconds": {"type": "string", "example": "60"}}}}}}
    },
    "responses": {
      "Problem": {"description": "Problem details", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
      "Session": {"description": "Signed in; also sets the session cookie", "content": {"application/json": {"schema": {"type": "object", "properties": {"user": {"$ref": "#/components/schemas/User"}, "token": {"type": "string"}}}}}},
      "Board": {"description": "The board and your part of it", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BoardFrame"}}}}
    },
    "schemas": {
      "Bullet": {"type": "object", "properties": {"id": {"type": "string"}, "parent": {"type": "string"}, "order": {"type": "string"}, "text": {"type": "string"}, "rev": {"type": "integer"}, "deleted": {"type": "boolean"}}},
      "SearchResult": {"type": "object", "properties": {"kind": {"type": "string", "enum": ["topic", "bullet"]}, "space": {"type": "string"}, "spaceName": {"type": "string"}, "series": {"type": "string"}, "seriesName": {"type": "string"}, "date": {"type": "string", "format": "date"}, "title": {"type": "string"}, "snippet": {"type": "string"}, "url": {"type": "string"}}},
      "Problem": {"type": "object", "required": ["type", "title", "status", "detail"], "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"}, "field": {"type": "string"}}},
      "User": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "name": {"type": "string"}, "email": {"type": "string"}, "isAdmin": {"type": "boolean"}}},
      "Role": {"type": "string", "enum": ["member", "facilitator", "owner"]},
      "Member": {"type": "object", "properties": {"user": {"$ref": "#/components/schemas/User"}, "role": {"$ref": "#/components/schemas/Role"}}},
      "Space": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "slug": {"type": "string"}, "name": {"type": "string"}, "description": {"type": "string"}, "visibility": {"type": "string", "enum": ["public", "private"]}, "createdAt": {"type": "string", "format": "date-time"}}},
      "SpaceView": {"type": "object", "properties": {"space": {"$ref": "#/components/schemas/Space"}, "role": {"$ref": "#/components/schemas/Role"}, "series": {"type": "array", "items": {"$ref": "#/components/schemas/Series"}}}},
      "Settings": {"type": "object", "properties": {"timeBoxMinutes": {"type": "integer"}, "extensionSteps": {"type": "array", "items": {"type": "integer"}}, "votesPerParticipant": {"type": "integer"}, "maxVotesPerTopic": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}}, "revoteSeconds": {"type": "integer"}}},
      "Series": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "spaceID": {"type": "string", "format": "uuid"}, "slug": {"type": "string"}, "name": {"type": "string"}, "description": {"type": "string"},
        "schedule": {"type": "object", "properties": {"weekday": {"type": "integer"}, "hour": {"type": "integer"}, "minute": {"type": "integer"}, "timeZone": {"type": "string"}, "durationMinutes": {"type": "integer"}}},
        "settings": {"$ref": "#/components/schemas/Settings"}, "createdAt": {"type": "string", "format": "date-time"}}},
      "MeetingSummary": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "date": {"type": "string", "format": "date"}, "status": {"$ref": "#/components/schemas/MeetingStatus"}, "skipReason": {"type": "string"}, "startsAt": {"type": "string", "format": "date-time"}}},
      "MeetingStatus": {"type": "string", "enum": ["upcoming", "live", "ended", "skipped"]},
      "Command": {"type": "object", "required": ["type"], "description": "One board command. Fields by type: propose(tag, title, description?), withdraw(topicId), vote(topicId), unvote(topicId), startMeeting, startTopic(topicId? — empty means top of the agenda), endTopic, extend, revote(thumb: up|sideways|down), closeRevote, endMeeting, skip(reason). All values are strings.",
        "properties": {"type": {"type": "string", "enum": ["propose", "withdraw", "vote", "unvote", "startMeeting", "startTopic", "endTopic", "extend", "revote", "closeRevote", "endMeeting", "skip"]},
          "topicId": {"type": "string"}, "tag": {"type": "string"}, "title": {"type": "string", "maxLength": 300}, "description": {"type": "string", "maxLength": 5000}, "thumb": {"type": "string", "enum": ["up", "sideways", "down"]}, "reason": {"type": "string", "maxLength": 500}}},
      "BoardFrame": {"type": "object", "required": ["type", "serverNow", "board", "me"], "properties": {
        "type": {"const": "board"}, "serverNow": {"type": "integer", "description": "Server clock, ms since 1970"},
        "board": {"type": "object", "properties": {
          "seq": {"type": "integer"},
          "meeting": {"type": "object", "properties": {"id": {"type": "string"}, "date": {"type": "string"}, "status": {"$ref": "#/components/schemas/MeetingStatus"}, "skipReason": {"type": "string"}, "startsAt": {"type": "integer"}, "startedAt": {"type": "integer"}, "endedAt": {"type": "integer"}}},
          "settings": {"$ref": "#/components/schemas/Settings"},
          "topics": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}, "tag": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"}, "proposerName": {"type": "string"}, "status": {"type": "string", "enum": ["queued", "discussing", "done", "carriedOver", "withdrawn"]}, "votes": {"type": "integer"}, "voteHistory": {"type": "array", "items": {"type": "object", "properties": {"meetingDate": {"type": "string"}, "votes": {"type": "integer"}}}}, "timeBoxMinutes": {"type": "integer"}, "extensionsUsed": {"type": "integer"}, "discussedSeconds": {"type": "integer"}, "carriedOver": {"type": "boolean"}}}},
          "clock": {"type": ["object", "null"], "properties": {"topicId": {"type": "string"}, "phase": {"type": "string", "enum": ["discussing", "revote"]}, "deadline": {"type": "integer"}, "tally": {"type": "object", "properties": {"up": {"type": "integer"}, "sideways": {"type": "integer"}, "down": {"type": "integer"}}}, "voters": {"type": "integer"}, "nextExtensionMinutes": {"type": "integer"}}},
          "present": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}}}},
        "me": {"type": "object", "properties": {"name": {"type": "string"}, "signedIn": {"type": "boolean"}, "canParticipate": {"type": "boolean"}, "canFacilitate": {"type": "boolean"}, "votesLeft": {"type": "integer"}, "votes": {"type": "object", "additionalProperties": {"type": "integer"}}, "thumb": {"type": "string", "enum": ["up", "sideways", "down"]}}}}}
    }
  }
}
"""#
}
