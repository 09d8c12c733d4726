-- The official working-day calendar: dated exceptions to Monday–Friday, per year whose notice is loaded.
CREATE TABLE holiday_calendar (
    day        BIGINT PRIMARY KEY,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE calendar_years (
    year      BIGINT PRIMARY KEY,
    source    TEXT NOT NULL,
    loaded_at BIGINT NOT NULL
);
