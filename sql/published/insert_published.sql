-- Insert the parsed rows of the files being loaded (registered view published_rows: the
--   columns of streams/core/cbt_publication.py ROW_COLUMNS, then member and source_file).
-- Parameters: $month (DATE), $kind (VARCHAR).
INSERT INTO nhs_cbt_published (
    month, file_kind, member, local_date, region_code, icb_code, sub_icb_code, pcn_code,
    practice, indicator, time_band, duration, wait_time, core_category, value, source_file,
    source_line, loaded_at
)
SELECT
    $month,
    $kind,
    member,
    local_date,
    region_code,
    icb_code,
    sub_icb_code,
    pcn_code,
    practice,
    indicator,
    time_band,
    duration,
    wait_time,
    core_category,
    value,
    source_file,
    source_line,
    now()
FROM published_rows
