-- Up Migration
-- Daily safety commitment (安全承诺) of each enterprise, one per local day (docs/findings.md): the main responsible
-- person's statement with the day's risk level, units running and special work. Never updated once made.
CREATE TABLE safety_commitment (
  site_id         text        NOT NULL,
  day             date        NOT NULL,
  committed_by    text        NOT NULL,
  risk_level      text        NOT NULL CHECK (risk_level IN ('low', 'general', 'higher', 'major')),
  units_running   integer     NOT NULL CHECK (units_running >= 0),
  units_stopped   integer     NOT NULL CHECK (units_stopped >= 0),
  hot_work        integer     NOT NULL CHECK (hot_work >= 0),
  confined_space  integer     NOT NULL CHECK (confined_space >= 0),
  statement       text        NOT NULL,
  recorded_by     text        NOT NULL,
  recorded_at     timestamptz NOT NULL,
  PRIMARY KEY (site_id, day)
);

-- Down Migration
DROP TABLE IF EXISTS safety_commitment;
