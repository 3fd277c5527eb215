-- Version 2: the default branch's first-parent history per repo, kept by the GitHub collector so
-- that "which deployment shipped this change" is answered from history already read (a change
-- goes to the first successful production deployment at or after its merge commit) and each sync
-- only reads the commits pushed since the last one.
-- `position` grows along the first-parent chain (a child is its first parent + 1); it orders
-- commits within one repo and means nothing across repos.

CREATE TABLE branch_commits (
    repo          VARCHAR NOT NULL,
    sha           VARCHAR NOT NULL,
    position      BIGINT NOT NULL,
    committed_at  TIMESTAMP,
    source        VARCHAR NOT NULL DEFAULT 'github',
    PRIMARY KEY (repo, sha)
);
