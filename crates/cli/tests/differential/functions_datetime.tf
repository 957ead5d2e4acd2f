output "formats" {
  value = [
    formatdate("YYYY-MM-DD hh:mm:ss ZZZZZ ZZZZ ZZZ Z", "2024-03-05T07:08:09Z"),
    formatdate("EEEE, DD-MMM-YY HH:mm:ss AA aa h H M D EEE MMMM 'quoted ''x''' ZZZ Z", "2024-03-05T17:08:09+05:30"),
    formatdate("H:mm AA", "2024-03-05T00:08:09-08:00"),
    formatdate("DD 'at' hh:mm, !", "2024-12-31T23:59:59.999Z"),
  ]
}
output "bad_verb" { value = try(formatdate("YYY", "2024-03-05T07:08:09Z"), "error") }
output "bad_time" { value = try(formatdate("YYYY", "2024-03-05"), "error") }
output "added" {
  value = [
    timeadd("2024-03-05T07:08:09Z", "1h30m"),
    timeadd("2024-03-05T07:08:09.5+02:00", "-10m1.5s"),
    timeadd("2024-03-05T07:08:09Z", "0"),
    timeadd("2024-03-05T07:08:09.123456Z", "1ms"),
    timeadd("2024-02-28T23:00:00Z", "25h"),
    timeadd("2024-03-05T07:08:09Z", "90000h"),
  ]
}
output "bad_duration" { value = try(timeadd("2024-03-05T07:08:09Z", "1d"), "error") }
output "compared" {
  value = [
    timecmp("2024-03-05T07:08:09Z", "2024-03-05T08:08:09+01:00"),
    timecmp("2024-03-05T07:08:09Z", "2025-01-01T00:00:00Z"),
    timecmp("2026-03-05T07:08:09Z", "2025-01-01T00:00:00Z"),
  ]
}
output "plan_time_is_known" { value = length(plantimestamp()) }
