-- Up Migration
-- Last known online/offline state of each device (from its retained MQTT state topic) and when it was last heard.
CREATE TABLE device_state (
  site_id          text        NOT NULL,
  device_id        text        NOT NULL,
  state            text        NOT NULL,
  state_changed_at timestamptz,
  last_seen        timestamptz,
  PRIMARY KEY (site_id, device_id)
);

-- Down Migration
DROP TABLE IF EXISTS device_state;
