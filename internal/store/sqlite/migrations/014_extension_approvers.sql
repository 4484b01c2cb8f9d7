-- An extension beyond a size needs two approvers (issue 12): the first
-- approval is kept here until a second, other approver completes it.
ALTER TABLE extensions ADD COLUMN first_approver TEXT NOT NULL DEFAULT '';

-- An approver must be an established operator: when the account got its
-- role (0: at its creation).
ALTER TABLE operators ADD COLUMN role_since INTEGER NOT NULL DEFAULT 0;
