-- An extension beyond a size needs two approvers (issue 12): the first
-- approval is kept here until a second, other approver completes it.
ALTER TABLE extensions ADD COLUMN first_approver TEXT NOT NULL DEFAULT '';
