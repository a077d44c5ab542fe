-- Fill public.prompts with :rows realistic prompts, server-side (make bench).
-- Each body is ~2 KB of prose-like text built from 1,000 pseudo-random paragraphs: newlines, tabs
-- written as backslash-t, Windows paths, {{placeholders}}, quotes and a line holding only `\.`.
-- Plus jsonb metadata (with backslashes), a text[] of tags, a float, a boolean, two timestamps.
-- Deterministic: the same :rows always gives the same table. Run with psql -v rows=N.
CREATE TEMPORARY TABLE bench_paragraph AS
SELECT p, string_agg(
         CASE WHEN h % 17 = 0 THEN E'\n'
              WHEN h % 29 = 0 THEN E' C:\\prompts\\' || (p * w % 97) || ' '
              ELSE '' END
         || (ARRAY['You', 'are', 'a', 'coach', 'helping', 'the', 'user', 'reflect', 'on',
                   'their', 'goals', 'and', 'next', 'steps.', 'Ask', 'one', 'question', 'at',
                   'a', 'time;', 'keep', 'it', 'short,', 'warm', 'and', 'direct.', 'Use',
                   '{{name}}', 'and', '{{goal}}', 'when', 'relevant.', 'Never', 'invent',
                   'facts', 'about', 'progress', 'feedback', 'session', 'energy', 'blocked',
                   'celebrate', '"quoted"', 'tab\there', '50%', '\n', 'literal', 'end\.',
                   'review', 'weekly', 'plan', 'habit', 'focus', 'deadline', 'team', 'manager',
                   'career', 'learning', 'burnout', 'O''Brien', 'naïve'])[1 + h % 61],
         ' ' ORDER BY w) AS txt
  FROM generate_series(0, 999) AS p,
       generate_series(1, 80) AS w,
       LATERAL (SELECT abs(hashtext(p || ':' || w)) AS h) AS r
 GROUP BY p;

TRUNCATE public.prompts;
INSERT INTO public.prompts (id, name, coach_state, prompt_type, version, body, metadata, tags,
                            temperature, is_active, created_at, updated_at)
SELECT i,
       'prompt.' || i,
       (ARRAY['onboarding', 'goal_setting', 'check_in', 'blocked', 'celebration', 'follow_up',
              'review', 'offboarding'])[1 + i % 8],
       (ARRAY['system', 'user', 'evaluation', 'summary'])[1 + i % 4],
       1 + i % 3,
       '# Prompt ' || i || E'\n' || a.txt || E'\n\n' || b.txt || E'\n\\.\n' || c.txt
         || E'\n' || d.txt,
       jsonb_build_object('model', 'gpt-4o', 'max_tokens', 256 + i % 1024,
                          'stop', jsonb_build_array(E'\n\n', E'\\end'),
                          'owner', 'team-' || i % 17, 'revision', i),
       ARRAY['coach', 'state-' || i % 10, 'v' || (1 + i % 3)],
       (i % 10) / 10.0,
       i % 13 <> 0,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute',
       timestamptz '2024-06-01 00:00:00+00' + i * interval '1 minute' + (i % 1000) * interval '1 ms'
  FROM generate_series(1, :rows) AS i
  JOIN bench_paragraph a ON a.p = i % 1000
  JOIN bench_paragraph b ON b.p = (i * 7 + 3) % 1000
  JOIN bench_paragraph c ON c.p = (i * 13 + 5) % 1000
  JOIN bench_paragraph d ON d.p = (i * 31 + 11) % 1000;
SELECT setval(pg_get_serial_sequence('public.prompts', 'id'), :rows);
VACUUM ANALYZE public.prompts;
CHECKPOINT;
-- rows, average body bytes, table size with TOAST and indexes
SELECT count(*), round(avg(octet_length(body))), pg_total_relation_size('public.prompts')
  FROM public.prompts;
