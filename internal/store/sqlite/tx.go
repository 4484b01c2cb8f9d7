package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/coffre/coffre/internal/audit"
	"github.com/coffre/coffre/internal/identity"
	"github.com/coffre/coffre/internal/store"
	"github.com/coffre/coffre/internal/store/sessioncache"
	"github.com/coffre/coffre/internal/subject"
	"github.com/coffre/coffre/internal/subjectid"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// subjectSeq is the seq of the subject named by (?1, ?2), see queries.
const subjectSeq = `coalesce(?1, (SELECT seq FROM subjects WHERE id = ?2))`

// The statements, by name. The writer prepares them once on its connection;
// read transactions run them as text.
var queries = map[string]string{
	"begin":       `BEGIN IMMEDIATE`,
	"dataVersion": `PRAGMA data_version`,
	"commit":      `COMMIT`,
	"rollback":    `ROLLBACK`,
	"savepoint":   `SAVEPOINT u`,
	"release":     `RELEASE u`,
	"rollbackTo":  `ROLLBACK TO u`,
	// A subject is named by (?1, ?2): its seq and NULL when its id is a
	// sequence id, or NULL and the id it was made with before migration 009.
	"reserveSeqs":    `UPDATE subject_counter SET last = max(last, (SELECT coalesce(max(seq), 0) FROM subjects)) + ? RETURNING last`,
	"putSubject":     `INSERT INTO subjects (seq, id, unit, dek, dek_version, fields, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
	"replaceSubject": `UPDATE subjects SET unit = ?3, dek = ?4, dek_version = ?5, fields = ?6, updated = ?7 WHERE seq = ` + subjectSeq + ` AND id IS ?2 AND erased = 0`,
	"getSubject":     `SELECT seq, unit, dek, dek_version, fields, created, updated, active, erased, canary FROM subjects WHERE seq = ` + subjectSeq + ` AND id IS ?2`,
	// getSubject, and whether the person has limits on the record (?3: its id).
	"getSubjectLimited": `SELECT seq, unit, dek, dek_version, fields, created, updated, active, erased, canary,
		EXISTS (SELECT 1 FROM person_limits WHERE subject = ?3) FROM subjects WHERE seq = ` + subjectSeq + ` AND id IS ?2`,
	"flagCanary":       `UPDATE subjects SET canary = 1 WHERE seq = ` + subjectSeq + ` AND id IS ?2`,
	"touchSubject":     `UPDATE subjects SET active = ?3 WHERE seq = ` + subjectSeq + ` AND id IS ?2 AND active < ?3 AND erased = 0`,
	"activityMark":     `SELECT seq FROM activity_mark`,
	"moveActivityMark": `UPDATE activity_mark SET seq = ?2 WHERE seq = ?1`,
	"eraseSubject":     `UPDATE subjects SET dek = NULL, fields = NULL, erased = 1, updated = ?3 WHERE seq = ` + subjectSeq + ` AND id IS ?2 AND erased = 0`,
	"putIndex":         `INSERT INTO lookup (hash, subject, gen) VALUES (?3, ` + subjectSeq + `, ?4) ON CONFLICT DO NOTHING`,
	"lookupIndex":      `SELECT l.subject, s.id FROM lookup l LEFT JOIN subjects s ON s.seq = l.subject WHERE l.hash = ?`,
	"deleteIndex":      `DELETE FROM lookup WHERE hash = ?`,
	"deleteOwnIndex":   `DELETE FROM lookup WHERE hash = ?3 AND subject = ` + subjectSeq,
	"appendAudit":      `INSERT INTO audit (seq, leaf) VALUES (?, ?)`,
	"lastAuditSeq":     `SELECT coalesce(max(seq), 0) FROM audit`,
	"auditEntries":     `SELECT leaf FROM audit WHERE seq >= ? AND seq < ? ORDER BY seq LIMIT ?`,
	"auditLeaves":      `SELECT seq, leaf FROM audit WHERE seq >= ? AND seq < ? ORDER BY seq`,
	"subjectAudit":     `SELECT leaf FROM audit WHERE instr(leaf, ?) > 0 ORDER BY seq DESC`,
	"putOperator":      `INSERT INTO operators (id, username, password_hash, totp_secret, totp_step, role, unit, created, disabled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	"getOperator":      `SELECT ` + operatorColumns + ` FROM operators WHERE id = ?`,
	"getOperatorBy":    `SELECT ` + operatorColumns + ` FROM operators WHERE username = ?`,
	"advanceTOTP":      `UPDATE operators SET totp_step = ? WHERE id = ? AND totp_step < ?`,
	"setRole":          `UPDATE operators SET role = ?, unit = ?, role_since = ? WHERE id = ?`,
	"countOperators":   `SELECT count(*) FROM operators`,
	"countSubjects":    `SELECT count(*) FROM subjects WHERE erased = 0 AND canary = 0`,
	"canaries":         `SELECT seq, id FROM subjects INDEXED BY subjects_canary WHERE canary = 1`,
	"keyless":          `SELECT seq, id FROM subjects WHERE seq > coalesce(?1, (SELECT seq FROM subjects WHERE id = ?2), 0) AND erased = 0 AND dek IS NULL ORDER BY seq LIMIT ?3`,
	"deleteIndexesOf":  `DELETE FROM lookup WHERE subject IN (SELECT value FROM json_each(?))`,
	"unitExists":       `SELECT EXISTS (SELECT 1 FROM operators WHERE unit = ?)`,
	"putSession":       `INSERT INTO sessions (hash, kind, operator, created, last_seen, expires, attempts, origin, user_agent, stepped_up, step_factor, step_group) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	"getSession": `SELECT s.kind, s.operator, s.created, s.last_seen, s.expires, s.attempts, s.origin, s.user_agent, s.challenge, s.stepped_up, s.step_factor, s.step_group, o.role, o.unit, o.disabled, o.locked
		FROM sessions s JOIN operators o ON o.id = s.operator WHERE s.hash = ?`,
	"operatorSessions": `SELECT s.hash, s.kind, s.operator, s.created, s.last_seen, s.expires, s.attempts, s.origin, s.user_agent, s.challenge, s.stepped_up, s.step_factor, s.step_group, o.role, o.unit, o.disabled, o.locked
		FROM sessions s JOIN operators o ON o.id = s.operator WHERE s.operator = ? AND s.kind = 'session' ORDER BY s.created DESC`,
	"deleteAllSessions": `DELETE FROM sessions WHERE operator != ?`,
	"setChallenge":      `UPDATE sessions SET challenge = ? WHERE hash = ?`,
	"stepUp":            `UPDATE sessions SET stepped_up = ?, step_factor = ?, step_group = ?, origin = ?, user_agent = ? WHERE hash = ?`,
	"touchSession":      `UPDATE sessions SET last_seen = ?, attempts = attempts + ? WHERE hash = ?`,
	"deleteSession":     `DELETE FROM sessions WHERE hash = ?`,
	"deleteOpSession":   `DELETE FROM sessions WHERE operator = ?`,
	"getGuard":          `SELECT state FROM guard_state WHERE operator = ?`,
	"putGuard":          `INSERT INTO guard_state (operator, state) VALUES (?, ?) ON CONFLICT (operator) DO UPDATE SET state = excluded.state`,
	"inCaseload":        `SELECT 1 FROM caseload WHERE operator = ? AND subject = ? AND (until = 0 OR until > ?)`,
	"caseloadUntil":     `SELECT until FROM caseload WHERE operator = ? AND subject = ?`,
	"assignCaseload":    `INSERT INTO caseload (operator, subject, until) VALUES (?, ?, ?) ON CONFLICT (operator, subject) DO UPDATE SET until = excluded.until`,
	"removeCaseload":    `DELETE FROM caseload WHERE operator = ? AND subject = ?`,
	"pruneCaseload":     `DELETE FROM caseload WHERE operator = ? AND subject NOT IN (SELECT value FROM json_each(?))`,
	"countCaseload":     `SELECT count(*) FROM caseload WHERE operator = ? AND (until = 0 OR until > ?)`,
	"getCanary":         `SELECT partner FROM canaries WHERE subject = ?`,
	"putCanary":         `INSERT INTO canaries (subject, partner, created) VALUES (?, ?, ?)`,
	"lockOperator":      `UPDATE operators SET locked = ?, locked_at = ? WHERE id = ?`,
	"putAlert":          `INSERT INTO alerts (ts, operator, code, severity, action, evidence, seq) VALUES (?, ?, ?, ?, ?, ?, ?)`,
	"alerts":            `SELECT id, ts, operator, code, severity, action, evidence FROM alerts WHERE id > ? ORDER BY id LIMIT ?`,
	"sequencedAlerts":   `SELECT id, ts, operator, code, severity, action, evidence FROM alerts WHERE seq >= ? AND seq < ? ORDER BY seq, id`,
	"putOutbox":         `INSERT INTO outbox (ts, kind, payload) VALUES (?, ?, ?)`,
	"putExtension":      `INSERT INTO extensions (id, operator, unit, subjects, hours, reason, created) VALUES (?, ?, ?, ?, ?, ?, ?)`,
	"getExtension":      `SELECT id, operator, unit, subjects, hours, reason, created, approved_by, approved_at, first_approver FROM extensions WHERE id = ?`,
	"firstApproval":     `UPDATE extensions SET first_approver = ? WHERE id = ? AND first_approver = '' AND approved_by = ''`,
	"approveExtension":  `UPDATE extensions SET approved_by = ?, approved_at = ? WHERE id = ? AND approved_by = ''`,
	"pendingExtensions": `SELECT id, operator, unit, subjects, hours, reason, created, first_approver FROM extensions WHERE unit = ? AND approved_by = '' ORDER BY created, id LIMIT ?`,
	"putWebAuthn":       `INSERT INTO webauthn_credentials (id, operator, name, credential, sign_count, created) VALUES (?, ?, ?, ?, ?, ?)`,
	"webAuthnOf":        `SELECT id, operator, name, credential, sign_count, created, last_used FROM webauthn_credentials WHERE operator = ? ORDER BY created, id`,
	"updateWebAuthn":    `UPDATE webauthn_credentials SET credential = ?, sign_count = ?, last_used = ? WHERE id = ?`,
	"deleteWebAuthn":    `DELETE FROM webauthn_credentials WHERE operator = ? AND id = ?`,
	"deleteRecovery":    `DELETE FROM recovery_codes WHERE operator = ?`,
	"putRecovery":       `INSERT INTO recovery_codes (operator, hash) VALUES (?, ?)`,
	"useRecovery":       `UPDATE recovery_codes SET used = 1 WHERE operator = ? AND hash = ? AND used = 0`,
	"countRecovery":     `SELECT count(*) FROM recovery_codes WHERE operator = ? AND used = 0`,
	"loginFailure":      `UPDATE operators SET failures = CASE WHEN failures_since < ? THEN 1 ELSE failures + 1 END, failures_since = CASE WHEN failures_since < ? THEN ? ELSE failures_since END WHERE id = ? RETURNING failures`,
	"resetFailures":     `UPDATE operators SET failures = 0, failures_since = 0 WHERE id = ?`,
	"pruneOrigins":      `DELETE FROM origin_counts WHERE until <= ?`,
	"countOrigin":       `INSERT INTO origin_counts (key, until, n) VALUES (?, ?, 1) ON CONFLICT (key) DO UPDATE SET n = origin_counts.n + 1 RETURNING n, until`,
	"originCount":       `SELECT n, until FROM origin_counts WHERE key = ? AND until > ?`,
	"holdOrigin":        `UPDATE origin_counts SET held = 1 WHERE key = ? AND until > ? AND held = 0`,
	"putRegular":        `INSERT INTO login_regulars (key, at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET at = excluded.at`,
	"pruneRegulars":     `DELETE FROM login_regulars WHERE at < ?`,
	"regular":           `SELECT at FROM login_regulars WHERE key = ?`,
	"putPartner":        `INSERT INTO partners (id, name, sector, key_hash, cert_serial, created) VALUES (?, ?, ?, ?, ?, ?)`,
	"getPartner":        `SELECT id, name, sector, key_hash, cert_serial, created FROM partners WHERE id = ?`,
	"getPartnerByName":  `SELECT id, name, sector, key_hash, cert_serial, created FROM partners WHERE name = ?`,
	"getPartnerByKey":   `SELECT id, name, sector, key_hash, cert_serial, created FROM partners WHERE key_hash = ?`,
	"setPartnerCreds":   `UPDATE partners SET key_hash = ?, cert_serial = ? WHERE id = ?`,
	"putPseudonym":      `INSERT INTO pseudonyms (sector, pseudonym, subject) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
	"resolvePseudonym":  `SELECT subject FROM pseudonyms WHERE sector = ? AND pseudonym = ?`,
	"putTile":           `INSERT OR REPLACE INTO tiles (level, idx, hashes) VALUES (?, ?, ?)`,
	"getTile":           `SELECT hashes FROM tiles WHERE level = ? AND idx = ?`,
	"getTiles":          `SELECT t.level, t.idx, t.hashes FROM json_each(?) j JOIN tiles t ON t.level = j.value ->> 0 AND t.idx = j.value ->> 1`,
	"putCheckpoint":     `INSERT INTO checkpoints (size, root, note, range, leaves, created, index_from, index_size, index_root, index_range) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	"latestCheckpoint":  `SELECT size, root, note, range, x'', created, index_from, index_size, index_root, index_range FROM checkpoints ORDER BY size DESC LIMIT 1`,
	"checkpointsAfter":  `SELECT size, root, note, range, leaves, created, index_from, index_size, index_root, index_range FROM checkpoints WHERE size > ? ORDER BY size LIMIT ?`,
	// The subject index log (subjectindex.go).
	// A head is the newest row the index log of size ?2 holds: rows a step
	// wrote ahead of a checkpoint that did not commit are skipped.
	"subjectHeads":  `SELECT j.value, (SELECT seq FROM subject_index WHERE subject = j.value AND pos < ?2 ORDER BY seq DESC LIMIT 1) FROM json_each(?1) j`,
	"subjectIndex":  `SELECT seq, pos, prev FROM subject_index WHERE subject = ? AND pos < ? ORDER BY seq DESC LIMIT ?`,
	"putIndexTile":  `INSERT OR REPLACE INTO index_tiles (level, idx, hashes) VALUES (?, ?, ?)`,
	"getIndexTile":  `SELECT hashes FROM index_tiles WHERE level = ? AND idx = ?`,
	"getIndexTiles": `SELECT t.level, t.idx, t.hashes FROM json_each(?) j JOIN index_tiles t ON t.level = j.value ->> 0 AND t.idx = j.value ->> 1`,
	// The life of an account (lifecycle.go).
	"setDisabled":   `UPDATE operators SET disabled = ?1, active_since = CASE WHEN ?1 THEN active_since ELSE ?2 END WHERE id = ?3`,
	"eraseOperator": `UPDATE operators SET username = ?, password_hash = '', totp_secret = NULL, disabled = 1, deleted = ?, failures = 0, failures_since = 0 WHERE id = ?`,
	"eraseWebAuthn": `DELETE FROM webauthn_credentials WHERE operator = ?`,
	"recordLogin":   `UPDATE operators SET last_login = ? WHERE id = ?`,
	"listOperators": `SELECT ` + operatorColumns + ` FROM operators WHERE id > ? ORDER BY id LIMIT ?`,
	// Enrolments (enrolment.go).
	"putEnrolment": `INSERT INTO enrolments (operator, requested_by, created, approved_by, code_hash, expires)
		SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM operators WHERE id = ?1)
		ON CONFLICT (operator) DO UPDATE SET requested_by = excluded.requested_by, created = excluded.created,
		approved_by = excluded.approved_by, code_hash = excluded.code_hash, expires = excluded.expires`,
	"getEnrolment":     `SELECT operator, requested_by, created, approved_by, code_hash, expires FROM enrolments WHERE operator = ?`,
	"approveEnrolment": `UPDATE enrolments SET approved_by = ?, code_hash = ?, expires = ? WHERE operator = ? AND approved_by = ''`,
	"spendEnrolment":   `DELETE FROM enrolments WHERE operator = ? AND approved_by != '' AND code_hash = ? AND expires > ?`,
	"deleteEnrolment":  `DELETE FROM enrolments WHERE operator = ?`,
	"setCredentials":   `UPDATE operators SET password_hash = ?, totp_secret = ? WHERE id = ?`,
	// The seal flag (sealflag.go).
	"markSealed":   `UPDATE seal_flag SET generation = generation + 1, sealed_at = ? WHERE id = 1`,
	"markUnsealed": `UPDATE seal_flag SET sealed_at = 0 WHERE id = 1`,
	"sealFlag":     `SELECT generation, sealed_at FROM seal_flag WHERE id = 1`,
	"rootKeys":     `SELECT version, sealed, created, retired, cursor, rewrapped, done FROM root_keys ORDER BY version`,
	"putRootKey": `INSERT INTO root_keys (version, sealed, created, retired, cursor, rewrapped, done) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
		ON CONFLICT (version) DO UPDATE SET sealed = ?2, created = ?3, retired = ?4, cursor = ?5, rewrapped = ?6, done = ?7`,
	"wrappedKeys":    `SELECT seq, id, dek FROM subjects WHERE seq > ? AND dek IS NOT NULL ORDER BY seq LIMIT ?`,
	"rewrapKey":      `UPDATE subjects SET dek = ? WHERE seq = ? AND dek = ?`,
	"wrappedSecrets": `SELECT id, totp_secret FROM operators WHERE length(totp_secret) > 0 ORDER BY id`,
	"rewrapSecret":   `UPDATE operators SET totp_secret = ? WHERE id = ? AND totp_secret = ?`,
	"keyVersions": `SELECT substr(dek, 1, 4), count(*) FROM subjects WHERE dek IS NOT NULL GROUP BY 1
		UNION ALL SELECT substr(totp_secret, 1, 4), count(*) FROM operators WHERE length(totp_secret) > 0 GROUP BY 1`,
	// Blind-index generations (blindkeys.go).
	"blindKeys": `SELECT gen, sealed, state, created, changed, cursor, added, done FROM blind_keys ORDER BY gen`,
	"putBlindKey": `INSERT INTO blind_keys (gen, sealed, state, created, changed, cursor, added, done) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
		ON CONFLICT (gen) DO UPDATE SET sealed = ?2, state = ?3, created = ?4, changed = ?5, cursor = ?6, added = ?7, done = ?8`,
	"liveSubjects": `SELECT seq, id, unit, dek, dek_version, fields, created, updated, active, canary FROM subjects WHERE seq > ? AND erased = 0 AND dek IS NOT NULL ORDER BY seq LIMIT ?`,
	"sameFields":   `SELECT 1 FROM subjects WHERE seq = ? AND erased = 0 AND fields = ?`,
	"addIndex":     `INSERT OR IGNORE INTO lookup (hash, subject, gen) VALUES (?, ?, ?)`,
	"dropIndexes":  `DELETE FROM lookup WHERE hash IN (SELECT hash FROM lookup WHERE gen = ? LIMIT ?)`,
	"indexGens":    `SELECT gen, count(*) FROM lookup GROUP BY gen`,
	// Subject sign-in (signin.go).
	"putSigninCode": `INSERT INTO signin_codes (token, contact, subject, hash, created, expires) VALUES (?, ?, ?, ?, ?, ?)`,
	"getSigninCode": `SELECT contact, subject, hash, created, expires, attempts, used FROM signin_codes WHERE token = ?`,
	"codeAttempt":   `UPDATE signin_codes SET attempts = attempts + 1 WHERE token = ? RETURNING attempts`,
	"spendCode":     `UPDATE signin_codes SET used = ?2 WHERE token = ?1 AND used = 0`,
	// ?2 is now, ?3 the start of a window that began at or before it.
	"signinRequest": `INSERT INTO signin_limits (key, requests, since) VALUES (?1, 1, ?2)
		ON CONFLICT (key) DO UPDATE SET
			requests = CASE WHEN signin_limits.since <= ?3 THEN 1 ELSE signin_limits.requests + 1 END,
			since = CASE WHEN signin_limits.since <= ?3 THEN ?2 ELSE signin_limits.since END
		RETURNING requests, since, failures, failed_at, locked_until`,
	"signinFailure": `INSERT INTO signin_limits (key, failures, failed_at) VALUES (?1, 1, ?2)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN signin_limits.failed_at <= ?3 THEN 1 ELSE signin_limits.failures + 1 END,
			failed_at = CASE WHEN signin_limits.failed_at <= ?3 THEN ?2 ELSE signin_limits.failed_at END
		RETURNING requests, since, failures, failed_at, locked_until`,
	"lockSignin": `INSERT INTO signin_limits (key, locked_until) VALUES (?1, ?2)
		ON CONFLICT (key) DO UPDATE SET locked_until = ?2, failures = 0, failed_at = 0`,
	"signinLimit":       `SELECT requests, since, failures, failed_at, locked_until FROM signin_limits WHERE key = ?`,
	"putSubjectSession": `INSERT INTO subject_sessions (hash, subject, method, created, last_seen, expires, origin, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
	"getSubjectSession": `SELECT subject, method, created, last_seen, expires, origin, user_agent FROM subject_sessions WHERE hash = ?`,
	"touchSubjectSess":  `UPDATE subject_sessions SET last_seen = ? WHERE hash = ?`,
	"deleteSubjectSess": `DELETE FROM subject_sessions WHERE hash = ?`,
	"deleteSubjectAll":  `DELETE FROM subject_sessions WHERE subject = ?`,
	"purgeSigninCodes":  `DELETE FROM signin_codes WHERE token IN (SELECT token FROM signin_codes WHERE expires < ?1 LIMIT ?2)`,
	"purgeSubjectSess":  `DELETE FROM subject_sessions WHERE hash IN (SELECT hash FROM subject_sessions WHERE expires < ?1 LIMIT ?2)`,
	"purgeSigninLimits": `DELETE FROM signin_limits WHERE key IN (SELECT key FROM signin_limits
		WHERE since < ?1 AND failed_at < ?1 AND locked_until < ?1 LIMIT ?2)`,
	// Delivery (delivery.go).
	"unexpanded":   `SELECT id, ts, kind, payload FROM outbox WHERE kind = ? AND sent = 0 ORDER BY id LIMIT ?`,
	"markExpanded": `UPDATE outbox SET sent = 1 WHERE id = ? AND sent = 0`,
	"outboxExists": `SELECT 1 FROM outbox WHERE id = ?`,
	"putDelivery": `INSERT INTO deliveries (source, kind, channel, recipient, idem, payload, next_at, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
		ON CONFLICT (idem) DO NOTHING`,
	"sentKeys": `SELECT idem FROM deliveries WHERE status = 'sent' AND idem IN (SELECT value FROM json_each(?))`,
	"putMessage": `INSERT INTO deliveries (source, kind, channel, recipient, idem, payload, next_at, created) VALUES (0, ?1, ?2, ?3, ?4, ?5, ?6, ?7)
		ON CONFLICT (idem) DO NOTHING`,
	"claimDeliveries": `UPDATE deliveries SET lease_owner = ?1, lease_until = ?3, tries = tries + 1
		WHERE id IN (SELECT id FROM deliveries WHERE status = 'pending' AND next_at <= ?2 AND lease_until <= ?2 ORDER BY next_at, id LIMIT ?4)
		RETURNING ` + deliveryColumns,
	"markSent": `UPDATE deliveries SET status = 'sent', sent_at = ?, lease_owner = '', lease_until = 0 WHERE id = ? AND status = 'pending'`,
	"markFailed": `UPDATE deliveries SET status = CASE WHEN ?5 THEN 'dead' ELSE 'pending' END, next_at = ?4, last_error = ?3, failures = failures + 1, lease_owner = '', lease_until = 0
		WHERE id = ?1 AND lease_owner = ?2 AND status = 'pending'`,
	"pruneSent":      `DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE status = 'sent' AND sent_at < ? LIMIT ?)`,
	"deliveries":     `SELECT ` + deliveryColumns + ` FROM deliveries WHERE id > ? ORDER BY id LIMIT ?`,
	"deliveryCounts": `SELECT channel, sent, dead, failures FROM delivery_counts`,
	"deliveryQueue":  `SELECT channel, count(*), min(created) FROM deliveries INDEXED BY deliveries_pending WHERE status = 'pending' GROUP BY channel`,
	"unexpandedStat": `SELECT count(*), coalesce(min(ts), 0) FROM outbox WHERE sent = 0`,
	// Consent requests and contact changes (consent.go).
	"putConsent": `INSERT INTO consents (id, subject, operator, role, unit, purpose, reason, fields, status, created, expires, decided, valid_until, closed, deadline)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	"getConsent":      `SELECT ` + consentColumns + ` FROM consents WHERE id = ?`,
	"latestConsent":   `SELECT ` + consentColumns + ` FROM consents WHERE operator = ? AND subject = ? AND purpose = ? ORDER BY created DESC, id DESC LIMIT 1`,
	"updateConsent":   `UPDATE consents SET status = ?, decided = ?, valid_until = ?, closed = ?, deadline = ? WHERE id = ? AND status = ?`,
	"pendingConsents": `SELECT ` + consentColumns + ` FROM consents WHERE subject = ? AND status = 'pending' AND expires > ? ORDER BY created DESC, id DESC LIMIT ?`,
	"dueConsents":     `SELECT ` + consentColumns + ` FROM consents WHERE status IN ('pending', 'approved') AND deadline <= ? ORDER BY deadline, id LIMIT ?`,
	"putContactChange": `INSERT INTO contact_changes (id, subject, operator, role, unit, fields, new_values, old_values, status, created, effective, closed)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	"getContactChange":     `SELECT ` + changeColumns + ` FROM contact_changes WHERE id = ?`,
	"pendingContactChange": `SELECT ` + changeColumns + ` FROM contact_changes WHERE subject = ? AND status = 'pending'`,
	"closeContactChange":   `UPDATE contact_changes SET status = ?, closed = ?, new_values = NULL WHERE id = ? AND status = ?`,
	"dueContactChanges":    `SELECT ` + changeColumns + ` FROM contact_changes WHERE status = 'pending' AND effective <= ? ORDER BY effective, id LIMIT ?`,
	"forgetContactValues": `UPDATE contact_changes SET old_values = NULL WHERE id IN
		(SELECT id FROM contact_changes WHERE old_values IS NOT NULL AND status != 'pending' AND closed < ? LIMIT ?)`,
	// The persons' rights (rights.go).
	"putRequest": `INSERT INTO rights_requests (id, subject, kind, fields, text, status, filed, due, extended, extend_reason, decided, decided_by, answer, lifted, courier, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT DO NOTHING`,
	"getRequest":      `SELECT ` + requestColumns + ` FROM rights_requests WHERE id = ?`,
	"subjectRequests": `SELECT ` + requestColumns + ` FROM rights_requests WHERE subject = ? ORDER BY filed DESC, id`,
	"openRequests":    `SELECT ` + requestColumns + ` FROM rights_requests WHERE status = 'pending' AND (due > ?1 OR due = ?1 AND id > ?2) ORDER BY due, id LIMIT ?3`,
	"updateRequest": `UPDATE rights_requests SET status = ?, due = ?, extended = ?, extend_reason = ?, decided = ?, decided_by = ?, answer = ?, lifted = ?, courier = ?, version = version + 1
		WHERE id = ? AND version = ?`,
	"requestExists":  `SELECT 1 FROM rights_requests WHERE id = ?`,
	"forgetCouriers": `UPDATE rights_requests SET courier = NULL WHERE courier IS NOT NULL AND decided < ?`,
	"putLimit":       `INSERT INTO person_limits (subject, kind, target, created) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
	"deleteLimit":    `DELETE FROM person_limits WHERE subject = ? AND kind = ? AND target = ?`,
	"limits":         `SELECT kind, target, created FROM person_limits WHERE subject = ? ORDER BY kind, target`,
	"clearLimits":    `DELETE FROM person_limits WHERE subject = ?`,
	// The audit stream's cursors (streams.go).
	"claimStream": `INSERT INTO audit_streams (sink, next, owner, until) VALUES (?1, 1, ?2, ?3)
		ON CONFLICT (sink) DO UPDATE SET owner = excluded.owner, until = excluded.until
		WHERE audit_streams.owner IN ('', excluded.owner) OR audit_streams.until < ?4`,
	"getStream":     `SELECT next, owner FROM audit_streams WHERE sink = ?`,
	"advanceStream": `UPDATE audit_streams SET next = max(next, ?) WHERE sink = ? AND owner = ?`,
	// Legal holds (holds.go).
	"putHold":      `INSERT INTO legal_holds (id, subject, reason, placed_by, placed_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
	"getHold":      `SELECT ` + holdColumns + ` FROM legal_holds WHERE id = ?`,
	"subjectHolds": `SELECT ` + holdColumns + ` FROM legal_holds WHERE subject = ? ORDER BY placed_at, id`,
	"liftHold":     `UPDATE legal_holds SET lifted_by = ?, lifted_at = ?, lift_reason = ? WHERE id = ? AND lifted_at = 0`,
	"holdExists":   `SELECT 1 FROM legal_holds WHERE id = ?`,
	"held":         `SELECT EXISTS (SELECT 1 FROM legal_holds WHERE subject = ? AND lifted_at = 0)`,
	// Incidents (incidents.go).
	"putIncident":    `INSERT INTO incidents (id, opened, doc, version) VALUES (?, ?, ?, 1) ON CONFLICT DO NOTHING`,
	"getIncident":    `SELECT doc, version FROM incidents WHERE id = ?`,
	"incidents":      `SELECT doc, version FROM incidents ORDER BY opened, id`,
	"updateIncident": `UPDATE incidents SET doc = ?, version = version + 1 WHERE id = ? AND version = ?`,
	"incidentExists": `SELECT 1 FROM incidents WHERE id = ?`,
	"appendEvent": `INSERT INTO incident_events (incident, seq, at, actor, kind, detail, audit)
		SELECT ?1, coalesce(max(seq), 0) + 1, ?2, ?3, ?4, ?5, ?6 FROM incident_events WHERE incident = ?1 RETURNING seq`,
	"events": `SELECT incident, seq, at, actor, kind, detail, audit FROM incident_events WHERE incident = ? ORDER BY seq`,
	// Statistics (stats.go).
	"addCount":      `INSERT INTO stat_cells (cellset, cell, count) VALUES (?1, ?2, ?3) ON CONFLICT (cellset, cell) DO UPDATE SET count = count + ?3`,
	"counts":        `SELECT cell, count FROM stat_cells WHERE cellset = ?`,
	"clearCounts":   `DELETE FROM stat_cells WHERE cellset = ?`,
	"countsVersion": `SELECT version FROM stat_version`,
	"setVersion":    `INSERT INTO stat_version (one, version) VALUES (1, ?) ON CONFLICT (one) DO UPDATE SET version = excluded.version`,
	"openBudget":    `INSERT INTO stat_budgets (analyst, period, spent) VALUES (?, ?, 0) ON CONFLICT DO NOTHING`,
	"spendBudget":   `UPDATE stat_budgets SET spent = spent + ?3 WHERE analyst = ?1 AND period = ?2 AND spent + ?3 <= ?4 RETURNING spent`,
	"budgetSpent":   `SELECT spent FROM stat_budgets WHERE analyst = ? AND period = ?`,
	// The audit log's epochs and their deletion (epochs.go).
	"putEpoch":          `INSERT INTO audit_epochs (number, first_seq, last_seq, opened_at, closed_at, root) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
	"epochs":            `SELECT number, first_seq, last_seq, opened_at, closed_at, root, deleted_at FROM audit_epochs ORDER BY number`,
	"markEpochDeleted":  `UPDATE audit_epochs SET deleted_at = ? WHERE number = ?`,
	"deleteAudit":       `DELETE FROM audit WHERE seq IN (SELECT seq FROM audit WHERE seq <= ? ORDER BY seq LIMIT ?)`,
	"subjectIndexAfter": `SELECT subject, seq FROM subject_index WHERE (subject, seq) > (?, ?) ORDER BY subject, seq LIMIT ?`,
	"deleteIndexRow":    `DELETE FROM subject_index WHERE subject = ? AND seq = ?`,
	"deleteTiles":       `DELETE FROM tiles WHERE rowid IN (SELECT rowid FROM tiles WHERE level = ? AND idx < ? LIMIT ?)`,
	"deleteIndexTiles":  `DELETE FROM index_tiles WHERE rowid IN (SELECT rowid FROM index_tiles WHERE level = ? AND idx < ? LIMIT ?)`,
	"trimCheckpoints":   `UPDATE checkpoints SET leaves = x'' WHERE size IN (SELECT size FROM checkpoints WHERE size > ? AND size <= ? AND length(leaves) > 0 ORDER BY size LIMIT ?) RETURNING size`,
	"subjectLinks":      `SELECT subject, prev FROM subject_index WHERE seq >= ?1 AND prev > 0 AND prev < ?1`,
}

// stmts are the statements of queries prepared on the writer's connection
// or on the read pool, each on its first use: a command that opens the
// store to run a few statements does not parse the ~230 (90 ms of a short
// command's 170, measured 2026-12-02). TestEveryStatementPrepares holds
// every query to preparing.
type stmts struct {
	c    preparer
	conn *sql.Conn            // the writer's connection; nil for the read pool
	m    sync.Map             // name → *sql.Stmt
	bulk map[string]*sql.Stmt // multi-row inserts by table and row count (the writer's)
}

type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// control are the statements a transaction's begin and end run: prepared
// when the store opens, so that ending a transaction needs no statement
// parsed (see [stmts.control]).
var control = []string{"begin", "commit", "rollback", "savepoint", "rollbackTo", "release", "dataVersion"}

// prepare readies the statements of c, the writer's connection or the read
// pool (database/sql then prepares a statement on each pooled connection
// at its first use there), preparing those of control now.
func prepare(ctx context.Context, c preparer) (*stmts, error) {
	s := &stmts{c: c, bulk: map[string]*sql.Stmt{}}
	if conn, ok := c.(*sql.Conn); ok {
		s.conn = conn
	}
	for _, name := range control {
		if _, err := s.stmt(ctx, name); err != nil {
			s.close()
			return nil, err
		}
	}
	return s, nil
}

// stmt returns the statement of name, preparing it on its first use. No
// lock is held while it prepares (on the read pool that waits for a free
// connection, which a caller iterating rows may hold while it asks for
// another statement): two first uses at once may both prepare it, and
// the second's is closed.
func (s *stmts) stmt(ctx context.Context, name string) (*sql.Stmt, error) {
	if st, ok := s.m.Load(name); ok {
		return st.(*sql.Stmt), nil
	}
	q, ok := queries[name]
	if !ok {
		return nil, fmt.Errorf("prepare %s: no such statement", name)
	}
	st, err := s.c.PrepareContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("prepare %s: %w", name, err)
	}
	if first, loaded := s.m.LoadOrStore(name, st); loaded {
		st.Close()
		return first.(*sql.Stmt), nil
	}
	return st, nil
}

// control returns a statement of [control], prepared when the store
// opened.
func (s *stmts) control(name string) *sql.Stmt {
	st, _ := s.m.Load(name)
	return st.(*sql.Stmt)
}

func (s *stmts) close() {
	s.m.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
	for _, st := range s.bulk {
		st.Close()
	}
}

type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// tx implements store.Tx on the writer's connection (st set) or on a read
// transaction (st nil).
type tx struct {
	q     querier
	st    *stmts
	cache *writerCache // the writer's; nil on the read pool
	ids   *subjectid.Codec
	// changes are the subject rows' changes: stamps for the read pool,
	// the record of what changed for the writer (fresh.go).
	changes *changes
	// sessions is the read pool's session cache (sessions.go).
	sessions *sessioncache.Cache
}

// noCancel strips cancellation from a statement's context: modernc.org/sqlite
// starts a goroutine per statement to interrupt it when a cancelable
// context ends, which costs more than the statements here take (callers'
// contexts are checked before a transaction runs).
func noCancel(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

func (t *tx) exec(ctx context.Context, name string, args ...any) (sql.Result, error) {
	ctx = noCancel(ctx)
	if t.cache != nil && identityWrites[name] {
		t.changes.identity = true
	}
	if t.st != nil {
		st, err := t.st.stmt(ctx, name)
		if err != nil {
			return nil, err
		}
		return st.ExecContext(ctx, args...)
	}
	return t.q.ExecContext(ctx, queries[name], args...)
}

func (t *tx) row(ctx context.Context, name string, args ...any) *sql.Row {
	ctx = noCancel(ctx)
	if t.st != nil {
		if st, err := t.st.stmt(ctx, name); err == nil {
			return st.QueryRowContext(ctx, args...)
		}
		// A *sql.Row carries no error of ours: the query as text fails
		// the same way, and the Row holds that.
	}
	return t.q.QueryRowContext(ctx, queries[name], args...)
}

func (t *tx) rows(ctx context.Context, name string, args ...any) (*sql.Rows, error) {
	ctx = noCancel(ctx)
	if t.st != nil {
		st, err := t.st.stmt(ctx, name)
		if err != nil {
			return nil, err
		}
		return st.QueryContext(ctx, args...)
	}
	return t.q.QueryContext(ctx, queries[name], args...)
}

func micros(t time.Time) int64 { return t.UnixMicro() }

// microsOrZero stores the zero time as 0.
func microsOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}
func fromMicros(v int64) time.Time {
	return time.UnixMicro(v).UTC()
}

func isConstraint(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return true
	}
	return false
}

func isNotNull(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_NOTNULL
}

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// subject returns the arguments (?1, ?2) that name subject id in the
// queries: its seq when id is a sequence id, else the id itself.
func (t *tx) subject(id string) (seq, legacy any) {
	if n, ok := t.ids.Seq(id); ok {
		return n, nil
	}
	return nil, id
}

// newRow returns the seq and id column of a new subject row: an id given
// from elsewhere takes the next number of the counter.
func (t *tx) newRow(ctx context.Context, id string) (seq int64, legacy any, err error) {
	if n, ok := t.ids.Seq(id); ok {
		return n, nil, nil
	}
	seq, err = t.reserveSeqs(ctx, 1)
	return seq, id, err
}

// reserveSeqs takes n subject seqs from the counter and returns the last.
// The counter never falls behind the rows (a row written by a binary of
// before the counter, say).
func (t *tx) reserveSeqs(ctx context.Context, n int64) (int64, error) {
	var last int64
	if err := t.row(ctx, "reserveSeqs", n).Scan(&last); err != nil {
		return 0, fmt.Errorf("reserve subject numbers: %w", err)
	}
	return last, nil
}

func (t *tx) PutSubject(ctx context.Context, s *subject.Row) error {
	seq, legacy, err := t.newRow(ctx, s.ID)
	if err != nil {
		return fmt.Errorf("put subject: %w", err)
	}
	_, err = t.exec(ctx, "putSubject", seq, legacy, s.Unit, s.DEK, s.DEKVersion, s.Fields, micros(s.Created), micros(s.Updated))
	if isConstraint(err) {
		return fmt.Errorf("put subject: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("put subject: %w", err)
	}
	return nil
}

func (t *tx) ReplaceSubject(ctx context.Context, s *subject.Row) error {
	seq, legacy := t.subject(s.ID)
	t.subjectChanged(s.ID)
	res, err := t.exec(ctx, "replaceSubject", seq, legacy, s.Unit, s.DEK, s.DEKVersion, s.Fields, micros(s.Updated))
	if err != nil {
		return fmt.Errorf("replace subject: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("replace subject: %w", store.ErrNotFound)
	}
	return nil
}

func (t *tx) GetSubject(ctx context.Context, id string) (*subject.Row, error) {
	s, _, err := t.getSubject(ctx, id, false)
	return s, err
}

// getSubject reads subject id's row and, with limited, whether the person
// has limits on it.
func (t *tx) getSubject(ctx context.Context, id string, limited bool) (*subject.Row, bool, error) {
	s := &subject.Row{ID: id}
	var created, updated, active int64
	var ver int64
	var has bool
	seq, legacy := t.subject(id)
	dest := []any{&s.Seq, &s.Unit, &s.DEK, &ver, &s.Fields, &created, &updated, &active, &s.Erased, &s.Canary}
	var r *sql.Row
	if limited {
		r, dest = t.row(ctx, "getSubjectLimited", seq, legacy, id), append(dest, &has)
	} else {
		r = t.row(ctx, "getSubject", seq, legacy)
	}
	if err := r.Scan(dest...); err != nil {
		return nil, false, notFound(err, "get subject")
	}
	s.DEKVersion = uint32(ver)
	s.Created, s.Updated, s.Active = fromMicros(created), fromMicros(updated), zeroOrMicros(active)
	return s, has, nil
}

func (t *tx) TouchSubjects(ctx context.Context, touches []subject.Touch) error {
	for _, tc := range touches {
		seq, legacy := t.subject(tc.ID)
		t.subjectChanged(tc.ID)
		if _, err := t.exec(ctx, "touchSubject", seq, legacy, micros(tc.Day)); err != nil {
			return fmt.Errorf("touch subject: %w", err)
		}
	}
	return nil
}

func (t *tx) ActivityMark(ctx context.Context) (int64, error) {
	var seq int64
	if err := t.row(ctx, "activityMark").Scan(&seq); err != nil {
		return 0, fmt.Errorf("activity mark: %w", err)
	}
	return seq, nil
}

func (t *tx) MoveActivityMark(ctx context.Context, from, to int64) (bool, error) {
	res, err := t.exec(ctx, "moveActivityMark", from, to)
	if err != nil {
		return false, fmt.Errorf("move activity mark: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

func (t *tx) EraseSubject(ctx context.Context, id string, at time.Time) error {
	seq, legacy := t.subject(id)
	t.subjectChanged(id)
	res, err := t.exec(ctx, "eraseSubject", seq, legacy, micros(at))
	if err != nil {
		return fmt.Errorf("erase subject: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("erase subject: %w", store.ErrNotFound)
	}
	return nil
}

func (t *tx) PutIndex(ctx context.Context, gen uint32, hash []byte, subject string) error {
	seq, legacy := t.subject(subject)
	res, err := t.exec(ctx, "putIndex", seq, legacy, hash, gen)
	if isNotNull(err) {
		return fmt.Errorf("put index: subject: %w", store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("put index: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("put index: %w", store.ErrConflict)
	}
	return nil
}

func (t *tx) LookupIndex(ctx context.Context, hash []byte) (string, error) {
	var seq int64
	var legacy sql.NullString
	if err := t.row(ctx, "lookupIndex", hash).Scan(&seq, &legacy); err != nil {
		return "", notFound(err, "lookup index")
	}
	if legacy.Valid {
		return legacy.String, nil
	}
	return t.ids.ID(seq), nil
}

func (t *tx) DeleteIndex(ctx context.Context, hash []byte) error {
	if _, err := t.exec(ctx, "deleteIndex", hash); err != nil {
		return fmt.Errorf("delete index: %w", err)
	}
	return nil
}

func (t *tx) AppendAudit(ctx context.Context, e *audit.Entry) error {
	var seq int64
	var err error
	if t.cache != nil {
		seq, err = t.cache.nextSeq(ctx, t)
	} else {
		err = t.row(ctx, "lastAuditSeq").Scan(&seq)
		seq++
	}
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	e.Seq = seq
	if _, err := t.exec(ctx, "appendAudit", seq, audit.LeafData(e)); err != nil {
		e.Seq = 0
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}

// scanAuditColumns reads entries of the schema before migration 008.
func scanAuditColumns(rows *sql.Rows) ([]audit.Entry, error) {
	defer rows.Close()
	var out []audit.Entry
	for rows.Next() {
		var e audit.Entry
		var ts int64
		var fields string
		if err := rows.Scan(&e.Seq, &ts, &e.Actor, &e.Action, &e.Subject, &e.Purpose, &e.Reason, &fields, &e.Decision, &e.Origin); err != nil {
			return nil, fmt.Errorf("scan audit: %w", err)
		}
		e.Time = fromMicros(ts)
		if fields != "" {
			e.Fields = strings.Split(fields, ",")
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// scanLeaves decodes the leaves of rows, keeping those keep accepts, at
// most limit (0: all).
func scanLeaves(rows *sql.Rows, keep func(*audit.Entry) bool, limit int) ([]audit.Entry, error) {
	defer rows.Close()
	var out []audit.Entry
	for rows.Next() {
		var raw sql.RawBytes
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("scan audit: %w", err)
		}
		e, err := audit.ParseLeaf(raw)
		if err != nil {
			return nil, fmt.Errorf("read audit: %w", err)
		}
		if keep != nil && !keep(&e) {
			continue
		}
		out = append(out, e)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit: %w", err)
	}
	return out, nil
}

func (t *tx) AuditEntries(ctx context.Context, from, to int64, limit int) ([]audit.Entry, error) {
	rows, err := t.rows(ctx, "auditEntries", from, to, limit)
	if err != nil {
		return nil, fmt.Errorf("audit entries: %w", err)
	}
	return scanLeaves(rows, nil, 0)
}

func (t *tx) AuditLeaves(ctx context.Context, from, to int64, fn func(seq int64, leaf []byte) error) error {
	rows, err := t.rows(ctx, "auditLeaves", from, to)
	if err != nil {
		return fmt.Errorf("audit leaves: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var raw sql.RawBytes
		if err := rows.Scan(&seq, &raw); err != nil {
			return fmt.Errorf("audit leaves: %w", err)
		}
		if err := fn(seq, raw); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (t *tx) LastAuditSeq(ctx context.Context) (int64, error) {
	var n int64
	if err := t.row(ctx, "lastAuditSeq").Scan(&n); err != nil {
		return 0, fmt.Errorf("last audit seq: %w", err)
	}
	return n, nil
}

func (t *tx) SubjectAudit(ctx context.Context, subject string, limit int) ([]audit.Entry, error) {
	if subject == "" {
		return nil, nil
	}
	// The leaf holds the id as it is: instr narrows the scan, the decoded
	// entry decides.
	rows, err := t.rows(ctx, "subjectAudit", []byte(subject))
	if err != nil {
		return nil, fmt.Errorf("subject audit: %w", err)
	}
	return scanLeaves(rows, func(e *audit.Entry) bool { return e.Subject == subject }, limit)
}

func (t *tx) PutOperator(ctx context.Context, o *identity.Operator) error {
	_, err := t.exec(ctx, "putOperator", o.ID, o.Username, o.PasswordHash, o.TOTPSecret, o.TOTPStep, o.Role, o.Unit, micros(o.Created), o.Disabled)
	if isConstraint(err) {
		return fmt.Errorf("put operator: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("put operator: %w", err)
	}
	return nil
}

func scanOperator(r interface{ Scan(...any) error }) (*identity.Operator, error) {
	o := &identity.Operator{}
	var created, lockedAt, since, lastLogin, activeSince, deleted, roleSince int64
	if err := r.Scan(&o.ID, &o.Username, &o.PasswordHash, &o.TOTPSecret, &o.TOTPStep, &o.Role, &o.Unit, &created, &o.Disabled, &o.Locked, &lockedAt, &o.Failures, &since, &lastLogin, &activeSince, &deleted, &roleSince); err != nil {
		return nil, notFound(err, "get operator")
	}
	if o.Failures > 0 {
		o.FailuresSince = fromMicros(since)
	}
	o.Created = fromMicros(created)
	if o.Locked != "" {
		o.LockedAt = fromMicros(lockedAt)
	}
	o.LastLogin, o.ActiveSince, o.Deleted, o.RoleSince = zeroOrMicros(lastLogin), zeroOrMicros(activeSince), zeroOrMicros(deleted), zeroOrMicros(roleSince)
	return o, nil
}

func (t *tx) GetOperator(ctx context.Context, id string) (*identity.Operator, error) {
	return scanOperator(t.row(ctx, "getOperator", id))
}

func (t *tx) GetOperatorByName(ctx context.Context, username string) (*identity.Operator, error) {
	return scanOperator(t.row(ctx, "getOperatorBy", username))
}

func (t *tx) AdvanceTOTP(ctx context.Context, id string, step int64) (bool, error) {
	res, err := t.exec(ctx, "advanceTOTP", step, id, step)
	if err != nil {
		return false, fmt.Errorf("advance totp: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (t *tx) CountSubjects(ctx context.Context) (int64, error) {
	var n int64
	if err := t.row(ctx, "countSubjects").Scan(&n); err != nil {
		return 0, fmt.Errorf("count subjects: %w", err)
	}
	return n, nil
}

func (t *tx) CanarySubjects(ctx context.Context) ([]string, error) {
	return t.subjectIDs(ctx, "canaries")
}

func (t *tx) KeylessSubjects(ctx context.Context, after string, limit int) ([]string, error) {
	seq, legacy := t.subject(after)
	if after == "" {
		seq, legacy = int64(0), nil
	}
	return t.subjectIDs(ctx, "keyless", seq, legacy, limit)
}

func (t *tx) DeleteIndexesOf(ctx context.Context, ids []string) (int64, error) {
	seqs := make([]int64, 0, len(ids))
	for _, id := range ids {
		seq, ok := t.ids.Seq(id)
		if !ok { // an id given from elsewhere
			err := t.q.QueryRowContext(noCancel(ctx), `SELECT seq FROM subjects WHERE id = ?`, id).Scan(&seq)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			} else if err != nil {
				return 0, fmt.Errorf("delete indexes of: %w", err)
			}
		}
		seqs = append(seqs, seq)
	}
	if len(seqs) == 0 {
		return 0, nil
	}
	list, err := json.Marshal(seqs)
	if err != nil {
		return 0, fmt.Errorf("delete indexes of: %w", err)
	}
	res, err := t.exec(ctx, "deleteIndexesOf", string(list))
	if err != nil {
		return 0, fmt.Errorf("delete indexes of: %w", err)
	}
	return res.RowsAffected()
}

// subjectIDs runs the statement named what, which selects subjects' seq
// and id, and returns their ids.
func (t *tx) subjectIDs(ctx context.Context, what string, args ...any) ([]string, error) {
	rows, err := t.rows(ctx, what, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var seq int64
		var id sql.NullString
		if err := rows.Scan(&seq, &id); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if id.Valid {
			out = append(out, id.String)
		} else {
			out = append(out, t.ids.ID(seq))
		}
	}
	return out, rows.Err()
}

func (t *tx) CountOperators(ctx context.Context) (int, error) {
	var n int
	if err := t.row(ctx, "countOperators").Scan(&n); err != nil {
		return 0, fmt.Errorf("count operators: %w", err)
	}
	return n, nil
}

func (t *tx) UnitExists(ctx context.Context, unit string) (bool, error) {
	var ok bool
	if err := t.row(ctx, "unitExists", unit).Scan(&ok); err != nil {
		return false, fmt.Errorf("unit exists: %w", err)
	}
	return ok, nil
}

func (t *tx) PutSession(ctx context.Context, s *identity.Session) error {
	_, err := t.exec(ctx, "putSession", s.Hash, string(s.Kind), s.Operator, micros(s.Created), micros(s.LastSeen), micros(s.Expires), s.Attempts, s.Origin, s.UserAgent, microsOrZero(s.SteppedUp), s.StepFactor, s.StepGroup)
	if isConstraint(err) {
		return fmt.Errorf("put session: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("put session: %w", err)
	}
	return nil
}

func (t *tx) GetSession(ctx context.Context, hash []byte) (*identity.Session, error) {
	var gen uint64
	var read time.Time
	if t.cache == nil {
		gen, read = t.sessions.Gen(), time.Now()
		if s, ok := t.sessions.Get(hash, gen); ok {
			return s, nil
		}
	}
	s, err := scanSession(t.row(ctx, "getSession", hash), false)
	if err != nil {
		return nil, notFound(err, "get session")
	}
	s.Hash = hash
	if t.cache == nil {
		t.sessions.Put(s, gen, read)
	}
	return s, nil
}

type scanner interface{ Scan(dest ...any) error }

// scanSession reads a session row as getSession (or, withHash,
// operatorSessions) selects it.
func scanSession(r scanner, withHash bool) (*identity.Session, error) {
	s := &identity.Session{}
	var kind string
	var created, seen, expires, stepped int64
	dest := []any{&kind, &s.Operator, &created, &seen, &expires, &s.Attempts, &s.Origin, &s.UserAgent, &s.Challenge, &stepped, &s.StepFactor, &s.StepGroup, &s.Role, &s.Unit, &s.Disabled, &s.Locked}
	if withHash {
		dest = append([]any{&s.Hash}, dest...)
	}
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	s.Kind = identity.SessionKind(kind)
	s.Created, s.LastSeen, s.Expires = fromMicros(created), fromMicros(seen), fromMicros(expires)
	if stepped != 0 {
		s.SteppedUp = fromMicros(stepped)
	}
	return s, nil
}

func (t *tx) TouchSession(ctx context.Context, hash []byte, lastSeen time.Time, attempt bool) error {
	inc := 0
	if attempt {
		inc = 1
	}
	res, err := t.exec(ctx, "touchSession", micros(lastSeen), inc, hash)
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("touch session: %w", store.ErrNotFound)
	}
	return nil
}

func (t *tx) DeleteSession(ctx context.Context, hash []byte) error {
	if _, err := t.exec(ctx, "deleteSession", hash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

func (t *tx) DeleteOperatorSessions(ctx context.Context, operator string) error {
	if _, err := t.exec(ctx, "deleteOpSession", operator); err != nil {
		return fmt.Errorf("delete operator sessions: %w", err)
	}
	return nil
}
