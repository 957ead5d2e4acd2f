output "regex" { value = regex("[a-z]+", "123abc456") }
output "regexall" { value = regexall("[0-9]+", "a1b22c333") }
output "replace_re" { value = replace("hello world", "/o(.)/", "0$1") }
