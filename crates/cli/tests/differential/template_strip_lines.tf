# Strip markers trim one token: in heredocs and template files each line is a token, in a quoted string the whole run of text; a `<<-` heredoc loses its indentation after stripping.
locals {
  items = ["a", "b"]
}
output "plain" {
  value = <<EOT
x
  %{~ for i in local.items ~}

  item ${i}

  %{~ endfor ~}

  done
EOT
}
output "tf" {
  value = templatefile("lines.tpl", { items = local.items })
}
output "quoted" {
  value = "x\n  %{~ for i in local.items ~}\n\n  item ${i}\n\n  %{~ endfor ~}\n\n  done"
}
output "ind" {
  value = <<-EOT
      x
    %{~ for i in local.items ~}

        item ${i}

    %{~ endfor ~}

      done
  EOT
}
output "ind2" {
  value = <<-EOT
      x
      %{ for i in local.items ~}
        item ${i}
      %{ endfor ~}
      done
  EOT
}
output "ind3" {
  value = <<-EOT
      x ${local.items[0]}
         %{~ if true ~}
        item
      %{~ endif }
      done
  EOT
}
output "p1" {
  value = <<EOT
x
  %{~ if true ~}%{ endif }
y
EOT
}
output "p2" {
  value = <<EOT
x
%{~ if true ~}%{ endif }
y
EOT
}
output "p3" {
  value = <<-EOT
    x
    %{~ if true ~}%{ endif }
    y
  EOT
}
output "p4" {
  value = <<-EOT
    x

    %{~ if true ~}%{ endif }

    y
  EOT
}
output "p5" {
  value = <<EOT
x
  ${"a"}
y
EOT
}
output "q1" {
  value = "a\nb%{ if true ~}\n\n  x%{ endif }"
}
output "q2" {
  value = "a\nb"
}
