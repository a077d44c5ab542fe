-- The ledger of :rel: what promptsync left on this target, one entry per row it holds (the
-- row's key, its hash, the promotion that wrote it, and the row version, xmin, it left),
-- written in the promotion's own transaction, after the apply. A later plan compares the
-- live rows with it (promptsync_compare's promptsync_ledger): a row whose hash differs was
-- edited outside promptsync since, a row it lacks was created outside, an entry whose row is
-- gone was deleted outside.
--
-- Kept in proportion to the change: only the entries that differ from what the table now
-- holds are written. For a sync (:'undoes' = ''), those of the rows the apply wrote and of the
-- rows it left that the ledger had otherwise (an edit outside promptsync that the source has
-- too), and, unless :'only' limits it to some keys, the removal of entries whose rows neither
-- side has. A rollback of promotion :'undoes' puts back the entries that promotion replaced,
-- from its ledger undo data; a row whose content is not the entry's (an edit outside
-- promptsync the rollback brought back) gets no row version, so it is never taken as
-- unchanged. Each promotion keeps the entries it replaced in a table of its own,
-- promptsync.undo_<promotion>_<…>_ledger (op 'o': the old entry, 'n': there was none), or one
-- row 'c' when it created the ledger. A target without a ledger to trust (:'ledger' = ''),
-- or the rollback of the promotion that created it, gets a new one of every row it holds.
-- Runs after signatures.sql. Needs functions.sql and the apply's :cmp. Variables: :'rel',
-- :'cmp', :'ledger', :'promotion', :'undoes', :'only', :'rows' and :'checksum' (the table's
-- fingerprint after the apply, which its entries add up to), :'live' (hash_live.sql's list when the
-- ledger's row hashes stood in for hashing rows, '' otherwise), and signatures.sql's.
SET LOCAL promptsync.rel = :'rel';
SET LOCAL promptsync.cmp = :'cmp';
SET LOCAL promptsync.ledger = :'ledger';
SET LOCAL promptsync.promotion = :'promotion';
SET LOCAL promptsync.undoes = :'undoes';
SET LOCAL promptsync.wanted = :'only';
SET LOCAL promptsync.live_list = :'live';
SET LOCAL promptsync.rows = :'rows';
SET LOCAL promptsync.checksum = :'checksum';
SET LOCAL promptsync.key_columns = :'sig_keys';
SET LOCAL promptsync.all_columns = :'sig_columns';
DO $ledger$
DECLARE
  live regclass := current_setting('promptsync.rel')::regclass;
  cmp text := current_setting('promptsync.cmp');
  ledger text := nullif(current_setting('promptsync.ledger'), '');
  promotion bigint := current_setting('promptsync.promotion')::bigint;
  undoes bigint := nullif(current_setting('promptsync.undoes'), '')::bigint;
  everything boolean := current_setting('promptsync.wanted') = '';
  undo text := pg_temp.promptsync_undo_table(live::text, promotion) || '_ledger';
  old_undo regclass;
  created boolean;
  stale boolean;
  keys text := pg_temp.promptsync_keys(live, '%I');
  key_defs text;
  entry_is_c text;
  server_id text := '';
BEGIN
  -- the server it is written on (pg_control_system(), where this role may read it)
  BEGIN
    SELECT system_identifier::text INTO server_id FROM pg_catalog.pg_control_system();
  EXCEPTION WHEN OTHERS THEN
    server_id := '';
  END;
  IF undoes IS NOT NULL THEN
    old_undo := to_regclass(pg_temp.promptsync_undo_table(live::text, undoes) || '_ledger');
    IF old_undo IS NULL OR ledger IS NULL THEN
      ledger := NULL;  -- no entries to put back: a new ledger of the rolled-back rows
    ELSE
      EXECUTE format('SELECT EXISTS (SELECT FROM %s WHERE promptsync_op = ''c'')', old_undo)
        INTO created;
      IF created THEN
        ledger := NULL;  -- the promotion rolled back created the ledger
      END IF;
    END IF;
  END IF;
  key_defs := pg_temp.promptsync_column_defs(live, true);
  -- what this promotion replaces in the ledger: its own ledger undo data
  EXECUTE format('CREATE TABLE %s (promptsync_op "char" NOT NULL, %s,'
                 ' promptsync_hash text, promptsync_promotion bigint, promptsync_xmin xid)',
                 undo, key_defs);

  IF ledger IS NULL THEN
    -- a new ledger of every row the table now holds (the old one, if any, goes)
    ledger := pg_temp.promptsync_ledger_table(live::text);
    EXECUTE format('DROP TABLE IF EXISTS %s', ledger);
    EXECUTE format('CREATE TABLE %s (%s, promptsync_hash text NOT NULL,'
                   ' promptsync_promotion bigint NOT NULL, promptsync_xmin xid,'
                   ' PRIMARY KEY (%s))', ledger, key_defs, keys);
    EXECUTE format('INSERT INTO %s SELECT %s, %s, %s, t.xmin FROM %s t',
                   ledger, pg_temp.promptsync_keys(live, 't.%I'),
                   pg_temp.promptsync_row_hash(live, 't'), promotion, live);
    EXECUTE format('INSERT INTO %s (promptsync_op) VALUES (''c'')', undo);
  ELSE
    -- the entries to write: op 's' (set it to hash, promotion, row_version) or 'g' (gone)
    DROP TABLE IF EXISTS pg_temp.promptsync_entries;  -- another table's, in this transaction
    EXECUTE format('CREATE TEMPORARY TABLE promptsync_entries (op "char" NOT NULL, hash text,'
                   ' promotion bigint, row_version xid, %s) ON COMMIT DROP', key_defs);
    IF undoes IS NULL THEN
      -- a sync: every row it wrote, and every row it left whose entry says otherwise
      EXECUTE format(
        'INSERT INTO pg_temp.promptsync_entries (op, hash, promotion, row_version, %1$s)'
        ' SELECT ''s'', c.promptsync_staged, %2$s, l.xmin, %3$s FROM %4$s c JOIN %5$s l ON %6$s'
        ' WHERE c.promptsync_staged IS NOT NULL'
        '   AND (c.promptsync_staged IS DISTINCT FROM c.promptsync_live'
        '        OR c.promptsync_ledger IS DISTINCT FROM c.promptsync_staged)',
        keys, promotion, pg_temp.promptsync_keys(live, 'c.%I'), cmp, live,
        pg_temp.promptsync_key_match(live, 'l', 'c'));
      -- every entry whose row the apply deleted
      EXECUTE format(
        'INSERT INTO pg_temp.promptsync_entries (op, %1$s) SELECT ''g'', %2$s FROM %3$s g'
        ' WHERE EXISTS (SELECT FROM %4$s c WHERE %5$s AND c.promptsync_staged IS NULL)',
        keys, pg_temp.promptsync_keys(live, 'g.%I'), ledger, cmp,
        pg_temp.promptsync_key_match(live, 'c', 'g'));
      -- every row the listing had to hash again (its version is not the one recorded) that
      -- still holds the recorded content: the new version, so it is vouched for next time
      IF current_setting('promptsync.live_list') <> '' THEN
        EXECUTE format(
          'INSERT INTO pg_temp.promptsync_entries (op, hash, promotion, row_version, %1$s)'
          ' SELECT ''s'', g.promptsync_hash, g.promptsync_promotion, v.promptsync_xmin::xid, %2$s'
          '   FROM %3$s v JOIN %4$s g ON %5$s'
          '  WHERE v.promptsync_vouched IS FALSE AND v.promptsync_hash = g.promptsync_hash'
          '    AND v.promptsync_xmin::xid IS DISTINCT FROM g.promptsync_xmin'
          '    AND NOT EXISTS (SELECT FROM pg_temp.promptsync_entries e WHERE %6$s)',
          keys, pg_temp.promptsync_keys(live, 'v.%I'), current_setting('promptsync.live_list'),
          ledger, pg_temp.promptsync_key_match(live, 'g', 'v'),
          pg_temp.promptsync_key_match(live, 'e', 'v'));
      END IF;
    ELSE
      -- a rollback: the entries the promotion rolled back replaced; a row version only
      -- where the row is the entry's (cmp's staged hash is what the table now holds)
      EXECUTE format(
        'INSERT INTO pg_temp.promptsync_entries (op, hash, promotion, row_version, %1$s)'
        ' SELECT CASE u.promptsync_op WHEN ''o'' THEN ''s'' ELSE ''g'' END,'
        '        u.promptsync_hash, u.promptsync_promotion,'
        '        CASE WHEN c.promptsync_staged = u.promptsync_hash THEN l.xmin END, %2$s'
        '   FROM %3$s u LEFT JOIN %4$s c ON %5$s LEFT JOIN %6$s l ON %7$s',
        keys, pg_temp.promptsync_keys(live, 'u.%I'), old_undo, cmp,
        pg_temp.promptsync_key_match(live, 'c', 'u'), live,
        pg_temp.promptsync_key_match(live, 'l', 'u'));
    END IF;
    entry_is_c := pg_temp.promptsync_key_match(live, 'g', 'e');
    EXECUTE format(
      'INSERT INTO %1$s SELECT CASE WHEN g.promptsync_hash IS NULL THEN ''n'' ELSE ''o'' END,'
      '       %2$s, g.promptsync_hash, g.promptsync_promotion, g.promptsync_xmin'
      '  FROM pg_temp.promptsync_entries e LEFT JOIN %3$s g ON %4$s',
      undo, pg_temp.promptsync_keys(live, 'e.%I'), ledger, entry_is_c);
    EXECUTE format('DELETE FROM %s g USING pg_temp.promptsync_entries e WHERE %s',
                   ledger, entry_is_c);
    EXECUTE format(
      'INSERT INTO %1$s SELECT %2$s, e.hash, e.promotion, e.row_version'
      '  FROM pg_temp.promptsync_entries e WHERE e.op = ''s''',
      ledger, pg_temp.promptsync_keys(live, 'e.%I'));
    -- a whole sync: the entries whose rows were deleted outside promptsync, and the source
    -- lacks too. Every row now has an entry, so there are such entries only when the ledger
    -- holds more entries than the table rows: a count tells before any row is compared.
    IF everything AND undoes IS NULL THEN
      EXECUTE format('SELECT (SELECT count(*) FROM %s) > (SELECT count(*) FROM %s)',
                     ledger, live) INTO stale;
      IF stale THEN
        entry_is_c := format('NOT EXISTS (SELECT FROM %s t WHERE %s)', live,
                             pg_temp.promptsync_key_match(live, 't', 'g'));
        EXECUTE format('INSERT INTO %s SELECT ''o'', g.* FROM %s g WHERE %s',
                       undo, ledger, entry_is_c);
        EXECUTE format('DELETE FROM %s g WHERE %s', ledger, entry_is_c);
      END IF;
    END IF;
  END IF;

  INSERT INTO promptsync.ledgers AS r
         (table_name, table_oid, ledger_table, key_columns, columns, promotion, rows, checksum,
          system_identifier, server_version, written_xid)
  VALUES (live::text, live::oid, ledger, current_setting('promptsync.key_columns'),
          current_setting('promptsync.all_columns'), promotion,
          current_setting('promptsync.rows')::bigint, current_setting('promptsync.checksum'),
          server_id,
          current_setting('server_version_num')::integer, pg_catalog.txid_current()::text)
  ON CONFLICT (table_name) DO UPDATE
     SET table_oid = EXCLUDED.table_oid, ledger_table = EXCLUDED.ledger_table,
         key_columns = EXCLUDED.key_columns,
         columns = EXCLUDED.columns, promotion = EXCLUDED.promotion, rows = EXCLUDED.rows,
         checksum = EXCLUDED.checksum,
         system_identifier = EXCLUDED.system_identifier,
         server_version = EXCLUDED.server_version, written_xid = EXCLUDED.written_xid;
END
$ledger$;
