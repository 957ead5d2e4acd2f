output "join" { value = join(",", ["a", "b", "c"]) }
output "split" { value = split(",", "a,b,c") }
output "replace" { value = replace("hello", "l", "L") }
output "format" { value = format("%s-%03d", "x", 7) }
output "trim" { value = trimspace("  x  ") }
output "title" { value = title("hello world") }
