-- The prompts table as Dev Coach's Django migrations create it; used by `make demo` and the
-- tests. Run with psql on an empty database.
CREATE TABLE IF NOT EXISTS public.prompts (
    id          bigserial PRIMARY KEY,
    name        varchar(200) NOT NULL,
    coach_state varchar(100) NOT NULL DEFAULT '',
    prompt_type varchar(50)  NOT NULL,
    version     integer      NOT NULL DEFAULT 1,
    body        text,
    metadata    jsonb,
    tags        text[],
    temperature double precision,
    is_active   boolean      NOT NULL DEFAULT true,
    created_at  timestamptz  NOT NULL DEFAULT now(),
    updated_at  timestamptz,
    CONSTRAINT prompts_identity_key UNIQUE (name, coach_state, prompt_type, version)
);
