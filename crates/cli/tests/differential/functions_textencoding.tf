output "encoded" {
  value = [
    textencodebase64("héllo", "UTF-16LE"),
    textencodebase64("hi", "UTF-16"),
    textencodebase64("héllo", "ISO-8859-1"),
    textencodebase64("hi", "utf-8"),
    textencodebase64("hi", "UTF-16BE"),
    textencodebase64("€ – ok", "windows-1252"),
    textencodebase64("hi", "latin1"),
    textencodebase64("hi", "US-ASCII"),
  ]
}
output "decoded" {
  value = [
    textdecodebase64("aADpAGwAbABvAA==", "UTF-16LE"),
    textdecodebase64("/v8AaABp", "UTF-16"),
    textdecodebase64("aOlsbG8=", "ISO-8859-1"),
    textdecodebase64("gCCWIG9r", "windows-1252"),
  ]
}
output "unrepresentable" { value = try(textencodebase64("h€", "US-ASCII"), "error") }
output "unknown_encoding" { value = try(textencodebase64("hi", "utf8"), "error") }
