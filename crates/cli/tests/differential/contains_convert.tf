output "c" { value = contains(["1", "2"], 1) }
