# bench/plot.gp: one bar chart per benchmark scenario (bench/run).
# gnuplot -e "dat='bench/out/hold.dat'; out='bench/plots/hold.png'; name='hold'; ylabel='...'" bench/plot.gp
set terminal pngcairo size 1000,520 font "sans,10" noenhanced
set output out
set datafile separator "\t"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set key outside right top autotitle columnhead
set grid ytics
set xtics rotate by -30 scale 0
set title "bench/run ".name
set ylabel ylabel
if (name ne "seatgen") { set logscale y }
set yrange [1:*]
if (name eq "seatgen") { set yrange [0:*] }

plot for [i=2:ncol] dat using i:xtic(1)
