output "chomp" { value = chomp("x\n") }
output "indent" { value = indent(2, "a\nb") }
output "starts" { value = startswith("hello", "he") }
output "ends" { value = endswith("hello", "lo") }
output "formatlist" { value = formatlist("%s=%d", ["a", "b"], [1, 2]) }
output "trimprefix" { value = trimprefix("prefix-x", "prefix-") }
output "strcontains" { value = strcontains("hello", "ell") }
