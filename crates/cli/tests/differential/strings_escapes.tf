output "esc" { value = "a\tb\n\"c\"" }
output "dollar" { value = "$${not} %%{x}" }
