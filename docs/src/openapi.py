"""Writes docs/openapi.json. Run `python3 docs/src/openapi.py` after changing an endpoint;
the black-box test `openapi_document_lists_exactly_the_servers_routes` fails until the
document and the server's route table agree."""
import json, os

def ref(name): return {"$ref": f"#/components/schemas/{name}"}
def body(schema, required=True): return {"required": required, "content": {"application/json": {"schema": schema}}}
def ok(desc, schema=None, status="200"):
    r = {"description": desc}
    if schema: r["content"] = {"application/json": {"schema": schema}}
    return {status: r}
ERR = {
    "400": {"description": "Body or query cannot be read", "content": {"application/json": {"schema": ref("Error")}}},
    "401": {"description": "No valid session or token", "content": {"application/json": {"schema": ref("Error")}}},
    "403": {"description": "The user's roles do not allow this", "content": {"application/json": {"schema": ref("Error")}}},
    "404": {"description": "Not found, or not visible to this user", "content": {"application/json": {"schema": ref("Error")}}},
    "409": {"description": "Stale row version, or the action does not leave the current state", "content": {"application/json": {"schema": ref("Error")}}},
    "422": {"description": "Invalid input; `fields` names every failing value by JSON pointer", "content": {"application/json": {"schema": ref("Error")}}},
    "413": {"description": "The file is larger than the field's `max_size` (code `too_large`); nothing is stored", "content": {"application/json": {"schema": ref("Error")}}},
    "415": {"description": "The file's content is not one of the field's types (code `unsupported_type`); nothing is stored", "content": {"application/json": {"schema": ref("Error")}}},
}
def errs(*codes): return {c: ERR[c] for c in codes}
def param(name, where="path", desc="", schema=None, required=None):
    return {"name": name, "in": where, "required": where == "path" if required is None else required, "description": desc, "schema": schema or {"type": "string"}}
def op(summary, responses, tag, params=None, request=None, auth=True, description=None):
    o = {"summary": summary, "tags": [tag], "responses": responses}
    if description: o["description"] = description
    if params: o["parameters"] = params
    if request: o["requestBody"] = request
    if not auth: o["security"] = []
    return o

record = {"type": "object", "required": ["id", "form", "form_version", "state", "data", "version", "actions", "created_at", "updated_at"], "properties": {
    "id": {"type": "string"}, "form": {"type": "string"}, "form_version": {"type": "integer"},
    "state": {"type": "string"}, "state_label": {"type": "string"}, "data": {"type": "object"},
    "version": {"type": "integer", "description": "Row version; send it back with PATCH"},
    "actions": {"type": "array", "items": {"type": "string"}, "description": "Transition keys this user may fire now"},
    "editable": {"type": "boolean"}, "owner_id": {"type": "string"}, "org_path": {"type": "string"},
    "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"}}}
user = {"type": "object", "properties": {"id": {"type": "string"}, "username": {"type": "string"}, "display_name": {"type": "string"}, "tenant": {"type": "string"},
    "org_unit": {"type": "object", "properties": {"code": {"type": "string"}, "name": {"type": "string"}, "path": {"type": "string"}}},
    "roles": {"type": "array", "items": {"type": "string"}}}}
error = {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message", "fields"], "properties": {
    "code": {"type": "string", "examples": ["invalid", "forbidden", "stale_version"]}, "message": {"type": "string"},
    "fields": {"type": "array", "items": {"type": "object", "properties": {"pointer": {"type": "string", "examples": ["/members/1/id_number"]}, "rule": {"type": "string"}, "message": {"type": "string"}, "message_en": {"type": "string"}}}}}}}}
attachment = {"type": "object", "required": ["id", "name", "size", "content_type", "sha256", "form", "field", "created_at"], "properties": {
    "id": {"type": "string", "format": "uuid"}, "name": {"type": "string", "description": "File name as uploaded, without folders"},
    "size": {"type": "integer", "description": "Bytes"}, "content_type": {"type": "string", "description": "Detected from the content", "examples": ["application/pdf"]},
    "sha256": {"type": "string", "description": "SHA-256 of the content, hex"}, "form": {"type": "string"}, "field": {"type": "string"},
    "record_id": {"type": ["string", "null"], "description": "The record that holds it; null until one does"}, "uploaded_by": {"type": "string"},
    "created_at": {"type": "string", "format": "date-time"}}}
page = lambda item: {"type": "object", "properties": {"items": {"type": "array", "items": item}, "total": {"type": "integer"}, "page": {"type": "integer"}, "page_size": {"type": "integer"}}}

html_page = lambda: {"200": {"description": "HTML page", "content": {"text/html": {}}}, "303": {"description": "To the login page without a session"}, "403": {"description": "A page saying what is not allowed"}, "404": {"description": "A page saying what was not found"}}
form_body = lambda: {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}}}

paths = {
  "/healthz": {"get": op("Readiness: 200 once the database answers", {"200": {"description": "ready", "content": {"text/plain": {}}}, "503": {"description": "database unavailable"}}, "system", auth=False)},
  "/": {"get": op("Home page: forms to fill, the inbox's first items, lists, recent records (redirects to /login without a session)", html_page(), "pages")},
  "/login": {"get": op("Login page", html_page(), "pages", [param("next", "query", "Page to go to afterwards", required=False), param("expired", "query", "Set when a session expired", required=False), param("tenant", "query", "Organisation code to fill in", required=False)], auth=False),
             "post": op("Log in from the page (form fields tenant, username, password, next); sets the session cookie and redirects", {"303": {"description": "Logged in"}, "401": {"description": "The page again with the reason"}}, "pages", request=form_body(), auth=False)},
  "/logout": {"post": op("Log out from the page (form field _csrf)", {"303": {"description": "To the login page"}}, "pages", request=form_body())},
  "/lang/{lang}": {"get": op("Switch the pages' language (cookie formwork_lang) and go back", {"303": {"description": "Back to the page"}}, "pages", [param("lang", desc="zh or en")], auth=False)},
  "/inbox": {"get": op("Inbox page (待办)", html_page(), "pages", [param("page", "query", "Page number", {"type": "integer"}, False)])},
  "/lists/{list}": {"get": op("List page: the list's filters, keyword, sort and pages as the API takes them, with Excel/CSV export links", html_page(), "pages", [param("list")])},
  "/lists/{list}/views": {"post": op("Save the list's current query as a named view from the page (name, query, _csrf)", {"303": {"description": "To the list with the view's query"}, "409": {"description": "A page: the name is taken"}, "422": {"description": "A page with the reason"}}, "pages", [param("list")], form_body())},
  "/lists/{list}/views/{id}/delete": {"post": op("Delete one of the user's saved views from the page (_csrf)", {"303": {"description": "Back to the list"}, "404": {"description": "A page: no such view of this user"}}, "pages", [param("list"), param("id")], form_body())},
  "/lists/{list}/batch": {"post": op("Fire one transition on the ticked records of a list page (ids, action, comment, query, _csrf), all or nothing", {"303": {"description": "Back to the list"}, "422": {"description": "A page naming each record that could not, and why; nothing changed"}}, "pages", [param("list")], form_body())},
  "/forms/{form}/new": {"get": op("Generated form page for a new record", html_page(), "pages", [param("form")]),
                        "post": op("Create from the page: the form's fields by JSON pointer (/field, /rows/0/field), _action (save or a transition), _csrf; redirects to the record or shows the page again with errors (422)", {"303": {"description": "Created"}, "422": {"description": "The page again with the errors by their fields"}}, "pages", [param("form")], form_body())},
  "/forms/{form}/evaluate": {"post": op("What the server computes from a form being filled: computed values and hidden conditional fields (used by form.js); nothing is saved", ok("Evaluation", {"type": "object", "properties": {"computed": {"type": "object"}, "hidden": {"type": "array", "items": {"type": "string"}}, "errors": {"type": "array"}}}), "pages", [param("form")], form_body())},
  "/records/{id}": {"get": op("Record page: data, state, timeline, documents and the user's actions", html_page(), "pages", [param("id")])},
  "/records/{id}/edit": {"get": op("Edit page of a record", html_page(), "pages", [param("id")]),
                         "post": op("Save an edit from the page (fields as for a new record, version, _csrf)", {"303": {"description": "Saved"}, "422": {"description": "The page again with the errors"}}, "pages", [param("id")], form_body())},
  "/records/{id}/actions/{action}": {"post": op("Fire a transition from the record page (comment, version, _csrf)", {"303": {"description": "Back to the record"}, "422": {"description": "The record page with the reason"}}, "pages", [param("id"), param("action")], form_body())},
  "/admin/users": {"get": op("User administration page (admin)", html_page(), "pages", [param("q", "query", "Part of a username or name", required=False), param("page", "query", "Page number", {"type": "integer"}, False)]),
                   "post": op("Create a user from the page (username, display_name, unit, roles, password, _csrf); a generated password is shown once", {"200": {"description": "The page with the new password"}, "422": {"description": "The page with the reasons"}, "409": {"description": "The page: the username is taken"}}, "pages", request=form_body())},
  "/admin/users/{id}/{what}": {"post": op("Lock, unlock, reset the password of (shown once) or set the roles of a user from the page (_csrf; roles for `roles`)", {"303": {"description": "Back to the users"}, "200": {"description": "The page with a reset password"}, "404": {"description": "A page: no such user or operation"}}, "pages", [param("id"), param("what", desc="lock, unlock, password or roles")], form_body())},
  "/admin/org": {"get": op("Org tree page with a form to add a unit (admin)", html_page(), "pages"),
                 "post": op("Add an org unit from the page (parent, code, name, _csrf)", {"303": {"description": "Back to the tree"}, "422": {"description": "The page with the reasons"}, "409": {"description": "The page: the code is taken"}}, "pages", request=form_body())},
  "/statistics": {"get": op("Statistics page: the pack's statistics the user may read", html_page(), "pages")},
  "/statistics/{key}": {"get": op("A statistic as a table with totals, a chart (bars, line, pie) and each row linked to its records", html_page(), "pages", [param("key")])},
  "/static/{path}": {"get": op("Stylesheets and scripts of the pages", {"200": {"description": "The file"}, "304": {"description": "Not modified (ETag)"}, "404": {"description": "No such file"}}, "pages", [param("path")], auth=False)},
  "/api/v1/openapi.json": {"get": op("This document", ok("OpenAPI 3.1 document", {"type": "object"}), "system", auth=False)},
  "/api/v1/auth/login": {"post": op("Log in", {**ok("Session created; also set as the `formwork_session` cookie", {"type": "object", "properties": {"token": {"type": "string", "description": "Send as `Authorization: Bearer TOKEN`"}, "expires_at": {"type": "string"}, "user": ref("User")}}), **errs("400", "401", "403")}, "auth",
      request=body({"type": "object", "required": ["tenant", "username", "password"], "properties": {"tenant": {"type": "string", "examples": ["redcross"]}, "username": {"type": "string"}, "password": {"type": "string"}}}), auth=False,
      description="Wrong tenant, user or password all answer 401. After 10 failures in a row the account is locked (403).")},
  "/api/v1/auth/logout": {"post": op("Log out (ends this session)", {"204": {"description": "Session ended"}, **errs("401")}, "auth")},
  "/api/v1/me/password": {"post": op("Change the signed-in user's password; ends their other sessions", {"204": {"description": "Changed"}, **errs("400", "401", "422")}, "auth",
      request=body({"type": "object", "required": ["current_password", "new_password"], "properties": {"current_password": {"type": "string"}, "new_password": {"type": "string", "minLength": 10, "maxLength": 128}}}),
      description="422 at `/current_password` when it is wrong, at `/new_password` when shorter than 10 characters, longer than 128, equal to the current password or to the username.")},
  "/account/password": {"get": op("Change-password page", html_page(), "pages"),
                        "post": op("Change the password from the page (current_password, new_password, repeat_password, _csrf)", {"200": {"description": "The page saying it is done"}, "422": {"description": "The page again with the reasons"}}, "pages", request=form_body())},
  "/api/v1/admin/users": {"get": op("The tenant's users (admin): username, name, unit, roles, locked; by username, 50 a page", {**ok("Users", {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object"}}, "total": {"type": "integer"}, "page": {"type": "integer"}, "page_size": {"type": "integer"}}}), **errs("401", "403")}, "admin",
          [param("q", "query", "Part of a username or name", required=False), param("page", "query", "Page number", {"type": "integer"}, False)]),
      "post": op("Create a user (admin); without `password` a random one is made and answered once", {**ok("Created", {"type": "object", "properties": {"user": {"type": "object"}, "password": {"type": "string"}}}, "201"), **errs("400", "401", "403", "409", "422")}, "admin",
          request=body({"type": "object", "required": ["username", "display_name", "unit"], "properties": {"username": {"type": "string"}, "display_name": {"type": "string"}, "unit": {"type": "string", "description": "Unit code"}, "roles": {"type": "array", "items": {"type": "string"}}, "password": {"type": "string", "minLength": 10}}}))},
  "/api/v1/admin/users/{id}/lock": {"post": op("Lock (ending the user's sessions) or unlock a user (admin; not oneself)", {**ok("The user", {"type": "object"}), **errs("401", "403", "404", "409")}, "admin", [param("id")], body({"type": "object", "required": ["locked"], "properties": {"locked": {"type": "boolean"}}}))},
  "/api/v1/admin/users/{id}/password": {"post": op("Reset a user's password to a random one, answered once; their sessions end (admin)", {**ok("The new password", {"type": "object", "properties": {"user": {"type": "object"}, "password": {"type": "string"}}}), **errs("401", "403", "404")}, "admin", [param("id")])},
  "/api/v1/admin/users/{id}/roles": {"put": op("Replace a user's roles, effective at once (admin; an admin keeps their own admin role)", {**ok("The user", {"type": "object"}), **errs("400", "401", "403", "404", "409", "422")}, "admin", [param("id")], body({"type": "object", "required": ["roles"], "properties": {"roles": {"type": "array", "items": {"type": "string"}}}}))},
  "/api/v1/admin/org": {"get": op("The org units in tree order with user counts, and the tenant's roles (admin)", {**ok("Org", {"type": "object", "properties": {"units": {"type": "array", "items": {"type": "object"}}, "roles": {"type": "array", "items": {"type": "object"}}}}), **errs("401", "403")}, "admin"),
      "post": op("Add an org unit under a parent (admin)", {**ok("Created", {"type": "object"}, "201"), **errs("400", "401", "403", "409", "422")}, "admin",
          request=body({"type": "object", "required": ["code", "name", "parent"], "properties": {"code": {"type": "string"}, "name": {"type": "string"}, "parent": {"type": "string", "description": "Parent unit code"}}}))},
  "/api/v1/me": {"get": op("The signed-in user", {**ok("User", ref("User")), **errs("401")}, "auth")},
  "/api/v1/forms": {"get": op("Forms this user may read or fill", {**ok("Forms", {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {"key": {"type": "string"}, "title": {"type": "string"}, "version": {"type": "integer"}, "permissions": {"type": "array", "items": {"type": "string"}}}}}}}), **errs("401")}, "forms")},
  "/api/v1/forms/{form}": {"get": op("A form: schema, workflow, the user's permissions and actions, its lists", {**ok("Form", {"type": "object"}), **errs("401", "404")}, "forms", [param("form", desc="Form key, e.g. fire_relief")])},
  "/api/v1/forms/{form}/versions": {"get": op("Published versions of a form, oldest first", {**ok("Versions", {"type": "object", "properties": {"form": {"type": "string"}, "items": {"type": "array", "items": {"type": "object", "properties": {"version": {"type": "integer"}, "pack_id": {"type": "string"}, "title": {"type": "string"}, "published_at": {"type": "string"}}}}}}), **errs("401", "404")}, "forms", [param("form")])},
  "/api/v1/forms/{form}/versions/{version}/diff": {"get": op("What changed in a version: fields added, removed and changed, required fields, other changes", {**ok("Diff", {"type": "object", "properties": {"from": {"type": "integer"}, "to": {"type": "integer"}, "diff": {"type": "object"}}}), **errs("400", "401", "404")}, "forms",
      [param("form"), param("version", schema={"type": "integer"}), param("from", "query", "The older version (default: the one before)", {"type": "integer"}, False)])},
  "/api/v1/forms/{form}/records": {"post": op("Create a record (a draft, or fire `action` at once)", {**ok("Created", ref("Record"), "201"), **errs("400", "401", "403", "404", "409", "422")}, "records", [param("form")],
      body({"type": "object", "properties": {"data": {"type": "object"}, "action": {"type": "string", "description": "e.g. submit"}, "comment": {"type": "string"}}}))},
  "/api/v1/records/{id}": {
      "get": op("Read a record", {**ok("Record", ref("Record")), **errs("401", "404")}, "records", [param("id")]),
      "patch": op("Edit a record's data (JSON merge patch); needs the row version read", {**ok("Updated", ref("Record")), **errs("400", "401", "403", "404", "409", "422")}, "records", [param("id")],
          body({"type": "object", "required": ["version", "data"], "properties": {"version": {"type": "integer"}, "data": {"type": "object"}}}))},
  "/api/v1/records/{id}/upgrade": {"post": op("Move a draft to the form's latest version; values that no longer fit are dropped and listed", {**ok("Report, and the record when written", {"type": "object", "properties": {"from_version": {"type": "integer"}, "to_version": {"type": "integer"}, "written": {"type": "boolean"}, "dropped": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "value": {}, "reason": {"type": "string"}}}}, "record": ref("Record")}}), **errs("400", "401", "403", "404", "409")}, "records", [param("id")],
      body({"type": "object", "properties": {"dry_run": {"type": "boolean", "description": "Only report"}, "version": {"type": "integer"}}}, required=False))},
  "/api/v1/batch/transitions/{action}": {"post": op("Fire one action on many records, all or nothing: every record is checked and reported; one refusal changes none (422 batch_refused with per-record results)", {**ok("All changed", {"type": "object", "properties": {"changed": {"type": "integer"}, "results": {"type": "array", "items": {"type": "object"}}}}), **errs("400", "401", "422")}, "records", [param("action")],
      body({"type": "object", "required": ["ids"], "properties": {"ids": {"type": "array", "items": {"type": "string"}, "maxItems": 500}, "comment": {"type": "string"}, "data": {"type": "object"}}}))},
  "/api/v1/records/{id}/documents": {"get": op("Printable documents of the record's form version, and whether each is available in its state", {**ok("Documents", {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {"key": {"type": "string"}, "label": {"type": "string"}, "available": {"type": "boolean"}}}}}}), **errs("401", "404")}, "documents", [param("id")])},
  "/api/v1/records/{id}/documents/{doc}": {"get": op("A document rendered as printable HTML (values escaped; sensitive values masked unless the role may unmask)", {"200": {"description": "HTML", "content": {"text/html": {}}}, **errs("401", "404", "409")}, "documents", [param("id"), param("doc")])},
  "/api/v1/records/{id}/transitions/{action}": {"post": op("Fire a workflow transition", {**ok("Record after the transition", ref("Record")), **errs("400", "401", "403", "404", "409", "422")}, "records", [param("id"), param("action", desc="e.g. submit, approve, reject")],
      body({"type": "object", "properties": {"comment": {"type": "string", "description": "Required where the transition says so (reject)"}, "data": {"type": "object", "description": "Fields the transition lets its actor set"}, "version": {"type": "integer"}}}, required=False))},
  "/api/v1/records/{id}/events": {"get": op("A record's history: every create, edit and transition with actor, time and comment", {**ok("Events", {"type": "object", "properties": {"items": {"type": "array", "items": ref("Event")}}}), **errs("401", "404")}, "records", [param("id")])},
  "/api/v1/lists/{list}": {"get": op("A page of a list, within the user's data scope, with the total count", {**ok("Page", page(ref("ListRow"))), **errs("400", "401", "403", "404", "422")}, "lists",
      [param("list"), param("filter[FIELD]", "query", "Equality filter on a field the list declares in `filters`; `filter[org]=CODE|PATH` keeps the unit's subtree, within the user's scope", required=False),
       param("filter[FIELD][OP]", "query", "OP is gt, gte, lt, lte (numbers, dates, created_at/updated_at), in (comma-separated: strings, numbers, dates, state) or contains (strings, case-insensitive, `%` and `_` literal); a kind that does not take OP is 422", required=False),
       param("q", "query", "Keyword: records where any of the list's `search` fields contains it (case-insensitive); 422 on a list without `search`", required=False),
       param("sort", "query", "Comma-separated fields, `-` for descending", required=False),
       param("page", "query", "From 1", {"type": "integer", "minimum": 1}, False), param("page_size", "query", "1 to 500", {"type": "integer", "minimum": 1, "maximum": 500}, False)])},
  "/api/v1/lists/{list}/views": {
      "get": op("The user's own saved views of a list", {**ok("Views", {"type": "object", "properties": {"items": {"type": "array", "items": ref("SavedView")}}}), **errs("401", "403", "404")}, "lists", [param("list")]),
      "post": op("Save a view: a name for a query string of the list", {**ok("Saved", ref("SavedView"), "201"), **errs("400", "401", "403", "404", "409", "422")}, "lists", [param("list")],
          body({"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "maxLength": 100}, "query": {"type": "string", "examples": ["filter[requested_amount][gte]=5000&sort=-requested_amount"]}}}),
          description="The query is checked as a request of the list (422 with `/query/...` pointers otherwise). A name the user already has on this list is 409.")},
  "/api/v1/lists/{list}/views/{id}": {"delete": op("Delete one of the user's own saved views", {"204": {"description": "Deleted"}, **errs("401", "403", "404")}, "lists", [param("list"), param("id")],
      description="Another user's or another tenant's view id is 404.")},
  "/api/v1/forms/{form}/fields/{field}/attachments": {"post": op("Upload a file for an attachment field; put the returned id into the record's field", {**ok("Stored", ref("Attachment"), "201"), **errs("401", "403", "404", "413", "415")}, "attachments",
      [param("form"), param("field", desc="An attachment field of the form (`x-attachment`), e.g. certificates"), param("name", "query", "File name; or send `X-File-Name` (percent-encoded UTF-8) or `Content-Disposition`", required=False)],
      {"required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
      description="The body is the raw file. Its type is decided by its content, not by its name or the request's Content-Type. Needs `create` or `update` on the form. Until a record is saved with its id, only the uploader sees it.")},
  "/api/v1/attachments/{id}": {
      "get": op("Download a file (Content-Disposition: attachment)", {"200": {"description": "The file, with the content type detected at upload", "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}, **errs("401", "404")}, "attachments", [param("id")],
          description="Allowed to the uploader while the attachment belongs to no record, then to everyone who may read the record. Anyone else gets 404."),
      "delete": op("Delete an attachment that no record holds yet (uploader only)", {"204": {"description": "Deleted with its file"}, **errs("401", "404", "409")}, "attachments", [param("id")])},
  "/api/v1/attachments/{id}/meta": {"get": op("An attachment's metadata", {**ok("Attachment", ref("Attachment")), **errs("401", "404")}, "attachments", [param("id")])},
  "/api/v1/forms/{form}/imports": {"post": op("Import records from an Excel workbook (.xlsx or .xls, the raw request body): every row is checked as a create (or, when the template's key finds a record, as an edit) and all are written in one transaction", {**ok("Imported (or, with dry_run, only checked: 200)", ref("ImportReport"), "201"), **errs("400", "401", "403", "404"), "413": {"description": "The file is larger than 20 MB (code `too_large`); nothing is stored", "content": {"application/json": {"schema": ref("Error")}}}, "422": {"description": "The file is refused (`invalid`, pointer `/file`: not a workbook, zip bomb, too many rows or columns), a header names a column twice (`/columns/…`), or rows were rejected (`import_refused`, with `report`); nothing is written", "content": {"application/json": {"schema": ref("Error")}}}}, "imports",
      [param("form"), param("template", "query", "Key of an import template of the form (imports/<key>.json); without it headers are field titles or keys", required=False),
       param("mode", "query", "`all` (default): one rejected row imports nothing; `valid_only`: the valid rows are imported", {"type": "string", "enum": ["all", "valid_only"]}, False),
       param("dry_run", "query", "Only check and report", {"type": "boolean"}, False)],
      {"required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
      description="Needs the `import` grant and the create permission of the form. The body is the workbook itself (no multipart); its type is decided by its content.")},
  "/api/v1/forms/{form}/import-template.xlsx": {"get": op("An empty import workbook: header row, drop-downs for choices, and a 说明 sheet explaining every column", {"200": {"description": "The workbook", "content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": {"type": "string", "format": "binary"}}}}, **errs("400", "401", "403", "404")}, "imports",
      [param("form"), param("template", "query", "Key of an import template of the form", required=False)])},
  "/api/v1/imports/{id}/errors.xlsx": {"get": op("The error workbook of an import: the rejected rows as they were, with their row number and reasons (only for the user who imported)", {"200": {"description": "The workbook", "content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": {"type": "string", "format": "binary"}}}}, **errs("401", "404")}, "imports", [param("id", desc="`id` of the import report")])},
  "/api/v1/statistics": {"get": op("Statistics of forms this user may read", {**ok("Statistics", {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {"key": {"type": "string"}, "label": {"type": "string"}, "form": {"type": "string"}}}}}}), **errs("401")}, "statistics")},
  "/api/v1/statistics/{key}": {"get": op("A statistic: records grouped by one or two dimensions, within the user's data scope, each row with the list query that drills down to its records", {**ok("Table", ref("Statistic")), **errs("400", "401", "403", "404", "422")}, "statistics",
      [param("key", desc="Statistic key, e.g. fire_relief_by_district"), param("filter[FIELD]", "query", "A list-style filter on a field the statistic declares in `filters` (operators as on lists); any other parameter is 422", required=False)],
      description="The same data scope as the form's lists. `drill` is null for a row whose key is empty (records without a value) or an age band computed from an ID number.")},
  "/api/v1/inbox": {"get": op("Records waiting for an action this user may take (待办)", {**ok("Page", page(ref("Record"))), **errs("401")}, "lists",
      [param("page", "query", schema={"type": "integer"}, required=False), param("page_size", "query", schema={"type": "integer"}, required=False)])},
  "/api/v1/notifications": {"get": op("The user's in-app messages, newest first: `task` (a record entered a state where the user can act) and `message` (a pack's `notify` effect)", {**ok("Page", {**page(ref("Notification")), "properties": {**page(ref("Notification"))["properties"], "unread": {"type": "integer"}}}), **errs("400", "401")}, "notifications",
      [param("unread", "query", "Only unread messages", {"type": "boolean"}, False), param("page", "query", schema={"type": "integer"}, required=False), param("page_size", "query", schema={"type": "integer"}, required=False)])},
  "/api/v1/notifications/{id}/read": {"post": op("Mark one of the user's messages read", {**ok("How many changed (0 when it was read already)", {"type": "object", "properties": {"changed": {"type": "integer"}}}), **errs("401", "404")}, "notifications", [param("id")])},
  "/api/v1/notifications/read-all": {"post": op("Mark all the user's messages read", {**ok("How many changed", {"type": "object", "properties": {"changed": {"type": "integer"}}}), **errs("401")}, "notifications")},
  "/api/v1/outbox": {"get": op("The tenant's deliveries to other systems (admin): SMS texts for the gateway and webhook calls, with status and attempts; payloads are not shown", {**ok("Page", page(ref("OutboxMessage"))), **errs("400", "401", "403", "422")}, "notifications",
      [param("channel", "query", "sms or webhook", {"type": "string", "enum": ["sms", "webhook"]}, False), param("status", "query", "", {"type": "string", "enum": ["pending", "sending", "sent", "dead"]}, False), param("page", "query", schema={"type": "integer"}, required=False), param("page_size", "query", schema={"type": "integer"}, required=False)])},
  "/api/v1/outbox/claim": {"post": op("An SMS gateway claims due messages (admin): each is leased to the caller, counts as an attempt and comes back in clear; report each with /outbox/{id}/result", {**ok("Claimed messages", {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}, "to": {"type": "string"}, "text": {"type": "string"}, "attempts": {"type": "integer"}, "record_id": {"type": ["string", "null"]}, "lease_until": {"type": "string"}}}}}}), **errs("400", "401", "403", "422")}, "notifications",
      request=body({"type": "object", "required": ["channel"], "properties": {"channel": {"type": "string", "enum": ["sms"]}, "limit": {"type": "integer", "default": 50, "maximum": 500}, "lease_secs": {"type": "integer", "default": 300}}}))},
  "/api/v1/outbox/{id}/result": {"post": op("Report a claimed message delivered or failed (admin); a failure is retried later with a growing delay until it is dead", {**ok("The message", ref("OutboxMessage")), **errs("400", "401", "403", "404", "409")}, "notifications", [param("id")],
      request=body({"type": "object", "required": ["delivered"], "properties": {"delivered": {"type": "boolean"}, "error": {"type": "string"}}}))},
  "/api/v1/webhooks": {
      "get": op("The tenant's webhook targets (admin); secrets are never shown again", {**ok("Webhooks", {"type": "object", "properties": {"items": {"type": "array", "items": ref("Webhook")}}}), **errs("401", "403")}, "notifications"),
      "post": op("Add a webhook target (admin). Answers its signing secret once. Every delivery is a POST with headers X-Formwork-Delivery (message id, the same on retries), X-Formwork-Event and X-Formwork-Signature `t=<unix>,sha256=<hex>,sm3=<hex>` (HMAC of `<t>.<body>`)", {**ok("Created, with `secret`", ref("Webhook"), "201"), **errs("400", "401", "403", "422")}, "notifications",
      request=body({"type": "object", "required": ["url"], "properties": {"url": {"type": "string", "format": "uri"}, "events": {"type": "array", "items": {"type": "string", "enum": ["record.created", "record.updated", "record.transition"]}}, "forms": {"type": "array", "items": {"type": "string"}}}}))},
  "/api/v1/webhooks/{id}": {"delete": op("Remove a webhook target (admin); its queued deliveries die", {"204": {"description": "Removed"}, **errs("401", "403", "404")}, "notifications", [param("id")])},
  "/api/v1/records/{id}/kept-documents": {"get": op("Documents rendered by transitions (`document` effects) and kept with the record, oldest first", {**ok("Kept documents", {"type": "object", "properties": {"items": {"type": "array", "items": ref("KeptDocument")}}}), **errs("401", "404")}, "documents", [param("id")])},
  "/api/v1/records/{id}/kept-documents/{doc}": {"get": op("A kept document's HTML as it was rendered (sensitive values masked, restricted fields left out)", {"200": {"description": "HTML", "content": {"text/html": {}}}, **errs("401", "404")}, "documents", [param("id"), param("doc")])},
  "/api/v1/batch-rules": {"get": op("Batch rules (批量规则) this user may run", {**ok("Rules", {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {"key": {"type": "string"}, "label": {"type": "string"}, "form": {"type": "string"}, "states": {"type": "array", "items": {"type": "string"}}, "action": {"type": "string"}, "others": {"type": ["string", "null"]}}}}}}), **errs("401")}, "records")},
  "/api/v1/batch-rules/{key}/preview": {"post": op("What a batch rule would do now, over the records the user sees: partitions, ranks, who is taken; nothing is written", {**ok("Preview", ref("BatchPreview")), **errs("401", "403", "404", "422")}, "records", [param("key")])},
  "/api/v1/batch-rules/{key}/run": {"post": op("Run a batch rule exactly as previewed: the digest must match (409 selection_changed with a fresh preview when records changed); all transitions or none", {**ok("All changed", {"type": "object", "properties": {"changed": {"type": "integer"}, "results": {"type": "array", "items": {"type": "object"}}}}), "409": {"description": "Records changed since the preview (`selection_changed`, with `preview`)", "content": {"application/json": {"schema": ref("Error")}}}, **errs("400", "401", "403", "404", "422")}, "records", [param("key")],
      request=body({"type": "object", "required": ["digest"], "properties": {"digest": {"type": "string", "description": "`digest` of the confirmed preview"}, "comment": {"type": "string"}}}))},
  "/api/v1/lists/{list}/export": {"get": op("Export a list as .xlsx or CSV: the user's scope, the list's filters, sort and keyword, laid out by the list's columns, a pack template or picked columns. Up to 10,000 rows answer the file; more (or background=true) answer 202 with an export job", {"200": {"description": "The file", "content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}, "text/csv": {}}}, "202": {"description": "Started as a job; poll its status_url", "content": {"application/json": {"schema": ref("ExportJob")}}}, **errs("400", "401", "403", "404", "422")}, "exports",
      [param("list"), param("format", "query", "xlsx (default) or csv", {"type": "string", "enum": ["xlsx", "csv"]}, False), param("template", "query", "Key of a pack export template for the list's form", required=False), param("columns", "query", "Comma-separated fields (instead of a template)", required=False), param("background", "query", "true: always run as a job", {"type": "boolean"}, False),
       param("filter[field]", "query", "The list's filters, as for GET /lists/{list}", required=False), param("sort", "query", required=False), param("q", "query", required=False)])},
  "/api/v1/lists/{list}/export-templates": {
      "get": op("Layouts a list can be exported with (its columns, the pack's templates, the user's own), and the fields a user may pick", {**ok("Templates", {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object"}}, "columns": {"type": "array", "items": {"type": "object"}}, "direct_limit": {"type": "integer"}}}), **errs("401", "403", "404")}, "exports", [param("list")]),
      "post": op("Save the user's own column choice (自定义导出模版); export with template=mine:<id>", {**ok("Saved, with `key`", {"type": "object", "properties": {"id": {"type": "string"}, "key": {"type": "string"}, "name": {"type": "string"}, "columns": {"type": "array", "items": {"type": "string"}}}}, "201"), **errs("400", "401", "403", "404", "409", "422")}, "exports", [param("list")],
      request=body({"type": "object", "required": ["name", "columns"], "properties": {"name": {"type": "string"}, "columns": {"type": "array", "items": {"type": "string"}}}}))},
  "/api/v1/lists/{list}/export-templates/{id}": {"delete": op("Delete one of the user's own export templates", {"204": {"description": "Deleted"}, **errs("401", "404")}, "exports", [param("list"), param("id")])},
  "/api/v1/export-jobs": {"get": op("The user's export jobs, newest first", {**ok("Jobs", {"type": "object", "properties": {"items": {"type": "array", "items": ref("ExportJob")}}}), **errs("401")}, "exports")},
  "/api/v1/export-jobs/{id}": {
      "get": op("An export job's status and progress (rows_done of rows_total)", {**ok("Job", ref("ExportJob")), **errs("401", "404")}, "exports", [param("id")]),
      "delete": op("Cancel a running export, or delete a finished one's file", {"204": {"description": "Cancelling, or deleted"}, **errs("401", "404")}, "exports", [param("id")])},
  "/api/v1/export-jobs/{id}/file": {"get": op("The finished file of an export job (kept 24 hours)", {"200": {"description": "The file", "content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}, "text/csv": {}}}, **errs("401", "404", "409")}, "exports", [param("id")])},
}
doc = {
  "openapi": "3.1.0",
  "info": {"title": "Formwork API", "version": "0.1.0", "description": "Multi-tenant low-code forms and workflows. Every request after login carries `Authorization: Bearer TOKEN` (or the session cookie); the token fixes the tenant. Errors are `{error: {code, message, fields}}`."},
  "servers": [{"url": "/"}],
  "security": [{"bearer": []}, {"cookie": []}],
  "paths": paths,
  "components": {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}, "cookie": {"type": "apiKey", "in": "cookie", "name": "formwork_session"}},
    "schemas": {"Record": record, "User": user, "Error": error, "Attachment": attachment,
      "Event": {"type": "object", "properties": {"seq": {"type": "integer"}, "kind": {"type": "string", "enum": ["create", "update", "transition", "vote"]}, "action": {"type": ["string", "null"]}, "action_label": {"type": ["string", "null"]},
         "from": {"type": ["string", "null"]}, "to": {"type": ["string", "null"]}, "to_label": {"type": ["string", "null"]}, "actor": {"type": "object"}, "comment": {"type": ["string", "null"]}, "changes": {"type": ["object", "null"]}, "at": {"type": "string"}}},
      "Statistic": {"type": "object", "properties": {"definition": {"type": "object", "properties": {"key": {"type": "string"}, "label": {"type": "string"}, "form": {"type": "string"}, "filters": {"type": "array", "items": {"type": "string"}}}},
         "columns": {"type": "object", "properties": {"dimensions": {"type": "array", "items": {"type": "object"}}, "measures": {"type": "array", "items": {"type": "object"}}}},
         "rows": {"type": "array", "items": {"type": "object", "properties": {"keys": {"type": "array", "items": {"type": ["string", "null"]}}, "labels": {"type": "array", "items": {"type": "string"}}, "values": {"type": "array", "items": {"type": ["number", "null"]}}, "drill": {"type": ["string", "null"], "description": "Append to `GET /api/v1/lists/{list}?` of a list of the same form", "examples": ["filter[district]=%E6%B5%A6%E4%B8%9C%E6%96%B0%E5%8C%BA&filter[state]=submitted"]}}}},
         "totals": {"type": "array", "items": {"type": ["number", "null"]}, "description": "One per measure, over every counted record"}}},
      "ExportJob": {"type": "object", "properties": {"id": {"type": "string"}, "list": {"type": "string"}, "format": {"type": "string"}, "query": {"type": "string"}, "status": {"type": "string", "enum": ["running", "cancelling", "done", "failed", "cancelled", "expired"]}, "rows_total": {"type": "integer"}, "rows_done": {"type": "integer"}, "file_name": {"type": ["string", "null"]}, "file_size": {"type": ["integer", "null"]}, "error": {"type": ["string", "null"]}, "created_at": {"type": "string"}, "finished_at": {"type": ["string", "null"]}, "expires_at": {"type": ["string", "null"]}, "file_url": {"type": "string"}, "status_url": {"type": "string"}}},
      "Notification": {"type": "object", "properties": {"id": {"type": "string"}, "kind": {"type": "string", "enum": ["task", "message"]}, "title": {"type": "string"}, "body": {"type": "string"}, "record_id": {"type": ["string", "null"]}, "created_at": {"type": "string"}, "read_at": {"type": ["string", "null"]}}},
      "OutboxMessage": {"type": "object", "properties": {"id": {"type": "string"}, "channel": {"type": "string", "enum": ["sms", "webhook"]}, "target": {"type": "string", "description": "Masked phone number, or the webhook id"}, "record_id": {"type": ["string", "null"]}, "status": {"type": "string", "enum": ["pending", "sending", "sent", "dead"]}, "attempts": {"type": "integer"}, "next_attempt_at": {"type": "string"}, "last_error": {"type": ["string", "null"]}, "created_at": {"type": "string"}, "sent_at": {"type": ["string", "null"]}}},
      "Webhook": {"type": "object", "properties": {"id": {"type": "string"}, "url": {"type": "string"}, "events": {"type": "array", "items": {"type": "string"}}, "forms": {"type": "array", "items": {"type": "string"}}, "created_at": {"type": "string"}, "secret": {"type": "string", "description": "Only in the answer of POST"}}},
      "KeptDocument": {"type": "object", "properties": {"id": {"type": "string"}, "key": {"type": "string"}, "label": {"type": "string"}, "action": {"type": "string"}, "sha256": {"type": "string"}, "created_by": {"type": "string"}, "created_at": {"type": "string"}}},
      "BatchPreview": {"type": "object", "properties": {"rule": {"type": "object"}, "partitions": {"type": "array", "items": {"type": "object", "properties": {"values": {"type": "array"}, "count": {"type": "integer"}, "take": {"type": "integer"}, "selected": {"type": "integer"}}}},
         "items": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}, "name": {}, "partition": {"type": "array"}, "rank": {"type": "integer"}, "keys": {"type": "array"}, "selected": {"type": "boolean"}}}},
         "selected": {"type": "integer"}, "others": {"type": "integer"}, "digest": {"type": "string", "description": "Quote it to run exactly this selection"}}},
      "ImportReport": {"type": "object", "properties": {"id": {"type": "string"}, "form": {"type": "string"}, "template": {"type": ["string", "null"]}, "mode": {"type": "string", "enum": ["all", "valid_only"]}, "dry_run": {"type": "boolean"}, "imported": {"type": "boolean", "description": "Whether records were written"},
         "sheet": {"type": "string"}, "rows": {"type": "integer", "description": "Data rows read"}, "accepted": {"type": "integer"}, "rejected": {"type": "integer"}, "created": {"type": "integer"}, "updated": {"type": "integer"},
         "ignored_columns": {"type": "array", "items": {"type": "string"}},
         "errors": {"type": "array", "description": "At most 1000; the error workbook has all", "items": {"type": "object", "properties": {"row": {"type": "integer", "description": "Row number as Excel shows it"}, "column": {"type": ["string", "null"], "examples": ["B"]}, "header": {"type": ["string", "null"]}, "field": {"type": ["string", "null"]}, "pointer": {"type": "string"}, "rule": {"type": "string"}, "message": {"type": "string"}, "message_en": {"type": "string"}}}},
         "errors_truncated": {"type": "boolean"}, "errors_url": {"type": ["string", "null"], "description": "The error workbook, when rows were rejected"}}},
      "SavedView": {"type": "object", "properties": {"id": {"type": "string"}, "list": {"type": "string"}, "name": {"type": "string"}, "query": {"type": "string", "description": "Append to `GET /api/v1/lists/{list}?`"}, "created_at": {"type": "string"}}},
      "ListRow": {"type": "object", "properties": {"id": {"type": "string"}, "form": {"type": "string"}, "state": {"type": "string"}, "state_label": {"type": "string"}, "version": {"type": "integer"}, "data": {"type": "object", "description": "The list's columns only"}, "created_at": {"type": "string"}, "updated_at": {"type": "string"}}}}},
}
out = os.path.join(os.path.dirname(__file__), "..", "openapi.json")
with open(out, "w") as f:
    json.dump(doc, f, ensure_ascii=False, indent=2)
    f.write("\n")
