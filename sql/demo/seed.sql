-- A realistic set of Dev Coach prompts for `make demo`: every coaching state x prompt type x
-- version, with multi-line markdown bodies, placeholders, tabs, backslashes, unicode, jsonb
-- settings and tags. Deterministic: the same rows every time.
INSERT INTO public.prompts
    (name, coach_state, prompt_type, version, body, metadata, tags, temperature, is_active,
     created_at, updated_at)
SELECT format('%s.%s', s.state, t.kind),
       s.state,
       t.kind,
       v,
       format(E'# Dev Coach — %s / %s (v%s)\n\n'
              || E'You are Dev Coach, a patient mentor for software developers.\n'
              || E'Current stage: **%s**. Speak to {user_name} in a warm, direct tone.\n\n'
              || E'## Steps\n\t1. Ask about their goal: "{goal}".\n'
              || E'\t2. Reflect it back in one sentence.\n\t3. Suggest one next action.\n\n'
              || E'Paths look like C:\\Users\\{user_name}\\projects — keep backslashes.\n'
              || E'Never promise what you cannot check. 🎯 Ünïcödé, 日本語, emoji stay intact.\n%s',
              s.state, t.kind, v, s.state,
              repeat(E'\nContext line: keep answers under 120 words.', v * 3)),
       jsonb_build_object('model', 'gpt-4o-mini', 'max_tokens', 300 + 100 * v,
                          'stop', jsonb_build_array(E'\n\nUser:'), 'state', s.state),
       ARRAY[s.state, t.kind, 'v' || v],
       round((0.2 + 0.1 * v)::numeric, 2)::double precision,
       v = 3,
       timestamptz '2026-01-05 09:00:00+00' + (v * interval '14 days'),
       CASE WHEN v > 1 THEN timestamptz '2026-03-01 12:30:00+00' + (v * interval '1 day') END
  FROM unnest(ARRAY['onboarding', 'goal_setting', 'planning', 'check_in', 'blocked',
                    'code_review', 'reflection', 'celebration', 'wrap_up', 'follow_up'])
       WITH ORDINALITY AS s(state, si),
       unnest(ARRAY['system', 'user_intro', 'assistant_example', 'evaluation', 'fallback'])
       WITH ORDINALITY AS t(kind, ti),
       generate_series(1, 3) AS v
 ORDER BY s.si, t.ti, v;
